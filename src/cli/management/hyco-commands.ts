import type { Command } from 'commander';
import type { HybridConnectionProps } from '../../client/management-client.js';
import { fail } from '../errors.js';
import { EXIT_CODES, withExamples } from '../help-text.js';
import { addManagementOptions, AZ_NOTE, subcommand, type ManagementFlags } from './options.js';
import { registerRuleCommands } from './rule-commands.js';
import { runManagement } from './run.js';
import { parseBoolean, parseHttpDeadline, requireHycoName } from './values.js';

interface HycoFlags extends ManagementFlags {
  name: string;
  requiresClientAuthorization?: string;
  userMetadata?: string;
  responseTimeout?: string;
  responseIdleTimeout?: string;
}

const NAME_HELP = "hybrid connection name (letters, digits, '.', '_', '-'; '/' between segments)";

/** `hybridge hyco ...`, mirroring `az relay hyco ...`. */
export function registerHycoCommands(program: Command): void {
  const hyco = withExamples(subcommand(program, 'hyco', 'manage the hybrid connections of a hybridge relay (mirrors `az relay hyco`)'), ['hybridge hyco create -n web', 'hybridge hyco list --query "[].name" -o tsv'], EXIT_CODES.management).addHelpText('after', AZ_NOTE);

  const create = subcommand(hyco, 'create', 'create a hybrid connection').requiredOption('-n, --name <name>', NAME_HELP);
  addManagementOptions(withProps(create), ['hybridge hyco create -n web', 'hybridge hyco create -n public-api --requires-client-authorization false --user-metadata "team A"']).action(async (flags: HycoFlags) => {
    const name = requireHycoName(flags.name, '--name');
    const props = hycoProps(flags);
    await runManagement(flags, (client) => client.createHybridConnection(name, props));
  });

  addManagementOptions(subcommand(hyco, 'list', 'list the hybrid connections (needs a namespace-level rule)'), ['hybridge hyco list', 'hybridge hyco list --query "[].name" -o tsv']).action(async (flags: ManagementFlags) => {
    await runManagement(flags, (client) => client.listHybridConnections());
  });

  const show = subcommand(hyco, 'show', 'show one hybrid connection').requiredOption('-n, --name <name>', NAME_HELP);
  addManagementOptions(show, ['hybridge hyco show -n web', 'hybridge hyco show -n web --query listenerCount -o tsv']).action(async (flags: HycoFlags) => {
    const name = requireHycoName(flags.name, '--name');
    await runManagement(flags, (client) => client.getHybridConnection(name));
  });

  const update = subcommand(hyco, 'update', 'change a hybrid connection').requiredOption('-n, --name <name>', NAME_HELP);
  addManagementOptions(withProps(update), ['hybridge hyco update -n web --requires-client-authorization true', 'hybridge hyco update -n events --response-timeout 5m --response-idle-timeout 2m']).action(async (flags: HycoFlags) => {
    const name = requireHycoName(flags.name, '--name');
    const props = hycoProps(flags);
    if (Object.keys(props).length === 0) fail('nothing to update: pass --requires-client-authorization, --user-metadata, --response-timeout or --response-idle-timeout');
    await runManagement(flags, (client) => client.updateHybridConnection(name, props));
  });

  const remove = subcommand(hyco, 'delete', 'delete a hybrid connection, closing its listeners and connections').requiredOption('-n, --name <name>', NAME_HELP);
  addManagementOptions(remove, ['hybridge hyco delete -n web']).action(async (flags: HycoFlags) => {
    const name = requireHycoName(flags.name, '--name');
    await runManagement(flags, (client) => client.deleteHybridConnection(name));
  });

  registerRuleCommands(hyco, 'hyco');
}

function withProps(command: Command): Command {
  return command
    .option('--requires-client-authorization <bool>', 'whether senders need a token: true (default) or false')
    .option('--user-metadata <text>', 'free text kept with the hybrid connection (at most 1024 characters)')
    .option('--response-timeout <duration>', 'hybridge extension: relayed HTTP requests get 504 when the response head takes longer (100ms to 24h, or "default" for the relay\'s --http-response-timeout)')
    .option('--response-idle-timeout <duration>', 'hybridge extension: a streamed HTTP response that pauses longer is cut (100ms to 24h, or "default" for the relay\'s --http-idle-timeout)');
}

function hycoProps(flags: HycoFlags): HybridConnectionProps {
  const props: HybridConnectionProps = {};
  if (flags.requiresClientAuthorization !== undefined) {
    props.requiresClientAuthorization = parseBoolean(flags.requiresClientAuthorization, '--requires-client-authorization');
  }
  if (flags.userMetadata !== undefined) {
    if (flags.userMetadata.length > 1024) fail('--user-metadata must be at most 1024 characters');
    props.userMetadata = flags.userMetadata;
  }
  if (flags.responseTimeout !== undefined) props.responseTimeoutMs = parseHttpDeadline(flags.responseTimeout, '--response-timeout');
  if (flags.responseIdleTimeout !== undefined) props.responseIdleTimeoutMs = parseHttpDeadline(flags.responseIdleTimeout, '--response-idle-timeout');
  return props;
}
