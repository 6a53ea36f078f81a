import type { Command } from 'commander';
import type { IpAction } from '../../client/management-client.js';
import { IpRuleError, MAX_IP_RULES, parseIpAction, parseIpMask } from '../../relay/ip-rules.js';
import { fail } from '../errors.js';
import { EXIT_CODES, withExamples } from '../help-text.js';
import { addManagementOptions, AZ_NOTE, subcommand, type ManagementFlags } from './options.js';
import { runManagement } from './run.js';

interface RuleSetFlags extends ManagementFlags {
  defaultAction?: string;
  ipAddress?: string;
  action?: string;
  position?: string;
}

const PREFIX = 'hybridge namespace network-rule-set';
const IP_HELP = 'an IPv4 or IPv6 address or CIDR range, e.g. 203.0.113.7, 10.0.0.0/8 or 2001:db8::/32';
const RULES_NOTE =
  `\nRules are tried in order; the first one that matches the client's address decides, else the default action.\n` +
  `Health checks (/$hybridge/health) are exempt; management calls are not (a change that would refuse the\n` +
  `caller's own address is refused). At most ${MAX_IP_RULES} rules.`;

/** `hybridge namespace network-rule-set ...`, mirroring `az relay namespace network-rule-set ...`. */
export function registerNetworkRuleCommands(namespace: Command): void {
  const ruleSet = withExamples(
    subcommand(namespace, 'network-rule-set', 'manage the client IP rules of the namespace (mirrors `az relay namespace network-rule-set`)'),
    [`${PREFIX} ip-rule add --ip-address 10.0.0.0/8 --action Allow`, `${PREFIX} update --default-action Deny`],
    EXIT_CODES.management,
  )
    .addHelpText('after', RULES_NOTE)
    .addHelpText('after', AZ_NOTE);

  addManagementOptions(subcommand(ruleSet, 'show', 'show the default action and the IP rules'), [`${PREFIX} show`, `${PREFIX} show --query defaultAction -o tsv`]).action(
    async (flags: RuleSetFlags) => {
      await runManagement(flags, (client) => client.getNetworkRuleSet());
    },
  );

  addManagementOptions(subcommand(ruleSet, 'list', 'list the network rule sets (a namespace has one, "default")'), [`${PREFIX} list`]).action(async (flags: RuleSetFlags) => {
    await runManagement(flags, (client) => client.listNetworkRuleSets());
  });

  const update = subcommand(ruleSet, 'update', 'change the default action').requiredOption('--default-action <action>', 'Allow or Deny: what happens to a client no IP rule matches');
  addManagementOptions(update, [`${PREFIX} update --default-action Deny`]).action(async (flags: RuleSetFlags) => {
    const defaultAction = action(flags.defaultAction, '--default-action');
    await runManagement(flags, (client) => client.updateNetworkRuleSet({ defaultAction }));
  });

  const ipRule = withExamples(subcommand(ruleSet, 'ip-rule', 'add, remove or list the IP rules'), [`${PREFIX} ip-rule add --ip-address 203.0.113.7 --action Deny --position 1`], EXIT_CODES.management)
    .addHelpText('after', RULES_NOTE)
    .addHelpText('after', AZ_NOTE);

  const add = subcommand(ipRule, 'add', 'add an IP rule (last, or at --position)')
    .requiredOption('--ip-address <cidr>', IP_HELP)
    .option('--action <action>', 'Allow or Deny', 'Allow')
    .option('--position <n>', 'where the rule goes in the order, 1 = first (default: last)')
    .addHelpText('after', RULES_NOTE);
  addManagementOptions(add, [`${PREFIX} ip-rule add --ip-address 10.0.0.0/8`, `${PREFIX} ip-rule add --ip-address 10.6.6.0/24 --action Deny --position 1`]).action(
    async (flags: RuleSetFlags) => {
      const ipMask = mask(flags.ipAddress);
      const ruleAction = action(flags.action, '--action');
      const position = flags.position === undefined ? undefined : positionOf(flags.position);
      await runManagement(flags, (client) => client.addIpRule(ipMask, ruleAction, position));
    },
  );

  const remove = subcommand(ipRule, 'remove', 'remove the IP rule for an address or range').requiredOption('--ip-address <cidr>', IP_HELP);
  addManagementOptions(remove, [`${PREFIX} ip-rule remove --ip-address 10.0.0.0/8`]).action(async (flags: RuleSetFlags) => {
    const ipMask = mask(flags.ipAddress);
    await runManagement(flags, (client) => client.removeIpRule(ipMask));
  });

  addManagementOptions(subcommand(ipRule, 'list', 'list the IP rules in the order they are tried'), [`${PREFIX} ip-rule list -o tsv`]).action(async (flags: RuleSetFlags) => {
    await runManagement(flags, (client) => client.listIpRules());
  });
}

function mask(text: string | undefined): string {
  try {
    return parseIpMask(text ?? '').text;
  } catch (err) {
    if (err instanceof IpRuleError) fail(`--ip-address: ${err.message}`);
    throw err;
  }
}

function action(text: string | undefined, flag: string): IpAction {
  try {
    return parseIpAction(text, flag);
  } catch (err) {
    if (err instanceof IpRuleError) fail(err.message);
    throw err;
  }
}

function positionOf(text: string): number {
  const value = Number(text);
  if (!/^\d{1,3}$/.test(text.trim()) || value < 1 || value > MAX_IP_RULES) fail(`--position must be a whole number from 1 to ${MAX_IP_RULES}, not "${text}"`);
  return value;
}
