import type { Command } from 'commander';
import { EXIT_CODES, withExamples } from '../help-text.js';
import { AZ_NOTE, subcommand } from './options.js';
import { registerRuleCommands } from './rule-commands.js';

/** `hybridge namespace authorization-rule ...`, mirroring `az relay namespace authorization-rule ...`. */
export function registerNamespaceCommands(program: Command): void {
  const namespace = withExamples(
    subcommand(program, 'namespace', 'manage the namespace-level rules of a hybridge relay (mirrors `az relay namespace`)'),
    ['hybridge namespace authorization-rule create -n ops --rights Manage', 'hybridge namespace authorization-rule keys list -n RootManageSharedAccessKey'],
    EXIT_CODES.management,
  ).addHelpText('after', AZ_NOTE);
  registerRuleCommands(namespace, 'namespace');
}
