import type { Command } from 'commander';
import type { Scope } from '../../client/management-client.js';
import { EXIT_CODES, withExamples } from '../help-text.js';
import { addManagementOptions, AZ_NOTE, subcommand, type ManagementFlags } from './options.js';
import { runManagement } from './run.js';
import { parseKeyType, parseRights, requireHycoName, requireRuleName } from './values.js';

interface RuleFlags extends ManagementFlags {
  hybridConnectionName?: string;
  name: string;
  rights?: string[];
  key?: string;
  keyValue?: string;
}

/** Where the rules live: on one hybrid connection (`hyco authorization-rule`) or on the namespace. */
export type RuleLevel = 'hyco' | 'namespace';

const RIGHTS_HELP = 'Listen, Send and/or Manage, space- or comma-separated (Manage includes the other two)';

/** `authorization-rule create|update|list|show|delete` and `authorization-rule keys list|renew` under `parent`. */
export function registerRuleCommands(parent: Command, level: RuleLevel): void {
  const where = level === 'hyco' ? 'of a hybrid connection' : 'of the namespace';
  const prefix = level === 'hyco' ? 'hybridge hyco authorization-rule' : 'hybridge namespace authorization-rule';
  const scope = level === 'hyco' ? ' --hybrid-connection-name web' : '';
  const rules = withExamples(subcommand(parent, 'authorization-rule', `manage the shared access rules ${where}`), [`${prefix} create${scope} -n send --rights Send`, `${prefix} keys list${scope} -n send --query primaryConnectionString -o tsv`], EXIT_CODES.management).addHelpText('after', AZ_NOTE);

  /** A leaf command with the scope and rule options first, then `extra`, then the common ones. */
  const define = (group: Command, name: string, description: string, example: string, extra: (c: Command) => Command = (c) => c, needsRule = true) => {
    const command = subcommand(group, name, description);
    if (level === 'hyco') command.requiredOption('--hybrid-connection-name <name>', 'the hybrid connection the rule belongs to');
    if (needsRule) command.requiredOption('-n, --name <rule>', 'rule name');
    return addManagementOptions(extra(command), [`${prefix} ${group === rules ? '' : 'keys '}${name}${scope}${needsRule ? ' -n send' : ''}${example}`]);
  };
  const scopeOf = (flags: RuleFlags): Scope => (level === 'hyco' ? requireHycoName(flags.hybridConnectionName ?? '', '--hybrid-connection-name') : undefined);
  const withRights = (c: Command) => c.requiredOption('--rights <rights...>', RIGHTS_HELP);

  const put = async (flags: RuleFlags) => {
    const scope = scopeOf(flags);
    const rule = requireRuleName(flags.name, '--name');
    const rights = parseRights(flags.rights);
    await runManagement(flags, (client) => client.putRule(scope, rule, rights));
  };
  define(rules, 'create', `create a rule ${where} (or change the rights of an existing one)`, ' --rights Send', withRights).action(put);
  define(rules, 'update', `change the rights of a rule ${where}`, ' --rights Listen Send', withRights).action(put);

  define(rules, 'list', `list the rules ${where}`, ' --query "[].keyName" -o tsv', undefined, false).action(async (flags: RuleFlags) => {
    const scope = scopeOf(flags);
    await runManagement(flags, (client) => client.listRules(scope));
  });

  define(rules, 'show', 'show a rule and its rights', '').action(async (flags: RuleFlags) => {
    const scope = scopeOf(flags);
    const rule = requireRuleName(flags.name, '--name');
    await runManagement(flags, (client) => client.getRule(scope, rule));
  });

  define(rules, 'delete', 'delete a rule; connections admitted with its keys are closed', '').action(async (flags: RuleFlags) => {
    const scope = scopeOf(flags);
    const rule = requireRuleName(flags.name, '--name');
    await runManagement(flags, (client) => client.deleteRule(scope, rule));
  });

  const keys = withExamples(subcommand(rules, 'keys', 'show or renew the keys of a rule'), [`${prefix} keys renew${scope} -n send --key PrimaryKey`], EXIT_CODES.management).addHelpText('after', AZ_NOTE);

  define(keys, 'list', 'print the keys and connection strings of a rule', ' --query primaryConnectionString -o tsv').action(async (flags: RuleFlags) => {
    const scope = scopeOf(flags);
    const rule = requireRuleName(flags.name, '--name');
    await runManagement(flags, (client) => client.listKeys(scope, rule));
  });

  const renewOptions = (c: Command) =>
    c.requiredOption('--key <which>', 'PrimaryKey or SecondaryKey').option('--key-value <key>', 'the new key (default: a random 256-bit key)');
  define(keys, 'renew', 'replace one key; the old key stops working at once and connections using it are closed', ' --key SecondaryKey', renewOptions).action(
    async (flags: RuleFlags) => {
      const scope = scopeOf(flags);
      const rule = requireRuleName(flags.name, '--name');
      const keyType = parseKeyType(flags.key ?? '');
      await runManagement(flags, (client) => client.renewKey(scope, rule, keyType, flags.keyValue));
    },
  );
}
