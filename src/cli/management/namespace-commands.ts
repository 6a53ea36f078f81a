import type { Command } from 'commander';
import { EXIT_CODES, withExamples } from '../help-text.js';
import { AZ_NOTE, subcommand } from './options.js';
import { registerNetworkRuleCommands } from './network-rule-commands.js';
import { registerRuleCommands } from './rule-commands.js';
import { registerNamespaceAdminCommands } from './namespace-admin-commands.js';

/** `hybridge namespace authorization-rule | network-rule-set ...`, mirroring `az relay namespace ...`. */
export function registerNamespaceCommands(program: Command): void {
  const namespace = withExamples(
    subcommand(program, 'namespace', 'create, list and delete hosted namespaces (admin key), and manage a namespace\'s rules and client IP rules (mirrors `az relay namespace`)'),
    ['hybridge namespace create -n session-4711 --server http://127.0.0.1:9350 --admin-key-file admin.key', 'hybridge namespace authorization-rule create -n ops --rights Manage', 'hybridge namespace authorization-rule keys list -n RootManageSharedAccessKey', 'hybridge namespace network-rule-set ip-rule add --ip-address 10.0.0.0/8'],
    EXIT_CODES.management,
  ).addHelpText('after', AZ_NOTE);
  registerNamespaceAdminCommands(namespace);
  registerRuleCommands(namespace, 'namespace');
  registerNetworkRuleCommands(namespace);
}
