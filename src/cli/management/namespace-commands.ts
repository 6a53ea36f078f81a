import type { Command } from 'commander';
import { AZ_NOTE, subcommand } from './options.js';
import { registerRuleCommands } from './rule-commands.js';

/** `hybridge namespace authorization-rule ...`, mirroring `az relay namespace authorization-rule ...`. */
export function registerNamespaceCommands(program: Command): void {
  const namespace = subcommand(program, 'namespace', 'manage the namespace-level rules of a hybridge relay (mirrors `az relay namespace`)').addHelpText('after', AZ_NOTE);
  registerRuleCommands(namespace, 'namespace');
}
