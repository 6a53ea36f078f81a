import type { Command } from 'commander';
import type { HybridConnectionProps } from '../../client/management-client.js';
import { fail } from '../errors.js';
import { EXIT_CODES, withExamples } from '../help-text.js';
import { addManagementOptions, AZ_NOTE, subcommand, type ManagementFlags } from './options.js';
import { registerRuleCommands } from './rule-commands.js';
import { runManagement } from './run.js';
import { parseBoolean, requireHycoName } from './values.js';

interface HycoFlags extends ManagementFlags {
  name: string;
  requiresClientAuthorization?: string;
  userMetadata?: string;
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
  addManagementOptions(withProps(update), ['hybridge hyco update -n web --requires-client-authorization true']).action(async (flags: HycoFlags) => {
    const name = requireHycoName(flags.name, '--name');
    const props = hycoProps(flags);
    if (Object.keys(props).length === 0) fail('nothing to update: pass --requires-client-authorization and/or --user-metadata');
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
    .option('--user-metadata <text>', 'free text kept with the hybrid connection (at most 1024 characters)');
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
  return props;
}
