import type { Command } from 'commander';
import { ManagementClient, type NamespaceQuotas } from '../../client/management-client.js';
import { parseRelayEndpoint, type RelayEndpoint } from '../../protocol/relay-endpoint.js';
import { namespaceNameProblem } from '../../relay/namespaces/namespace-name.js';
import { collect, parsePositiveInt, readPemFile } from '../common-options.js';
import { fail } from '../errors.js';
import { withExamples, EXIT_CODES } from '../help-text.js';
import { proxyFrom } from '../proxy-options.js';
import { readSecret } from '../secret-input.js';
import { ADMIN_KEY_ENV } from '../server-namespaces.js';
import { subcommand } from './options.js';
import type { OutputFlags } from './output.js';
import { runManagement } from './run.js';

export const SERVER_ENV = 'HYBRIDGE_SERVER';

interface AdminFlags extends OutputFlags {
  name?: string;
  server?: string;
  adminKeyFile?: string;
  ca?: string[];
  maxConnections?: string;
  maxListeners?: string;
  maxHycos?: string;
  maxRules?: string;
}

const NAME_HELP = 'namespace name (6 to 50 letters, digits and hyphens, starting with a letter, not ending with a hyphen)';

/** `hybridge namespace create|list|show|delete`: the server-level admin API, shaped like `az relay namespace`. */
export function registerNamespaceAdminCommands(namespace: Command): void {
  const create = subcommand(namespace, 'create', 'create a hosted namespace on the relay; prints it with its root connection string (admin key)').requiredOption('-n, --name <name>', NAME_HELP);
  create
    .option('--max-connections <n>', "the namespace's connections per relay node (default: the relay's --max-connections)")
    .option('--max-listeners <n>', 'listeners per hybrid connection (default: the relay\'s --max-listeners)')
    .option('--max-hycos <n>', 'hybrid connections the namespace may hold (default: no limit)')
    .option('--max-rules <n>', 'authorization rules per scope, at most 12 (default 12)')
    .option('-l, --location <location>', 'ignored (az compatibility)');
  adminOptions(create, ['hybridge namespace create -n session-4711 --query rootConnectionString -o tsv', 'hybridge namespace create -n tenant-a --max-connections 200 --max-hycos 10']).action(async (flags: AdminFlags) => {
    const name = checkedName(flags.name);
    const quotas = quotasFrom(flags);
    await runManagement(flags, (client) => client.createNamespace(name, quotas), () => adminClient(flags));
  });
  adminOptions(subcommand(namespace, 'list', 'list the hosted namespaces (admin key)'), ['hybridge namespace list --query "[].name" -o tsv']).action(async (flags: AdminFlags) => {
    await runManagement(flags, (client) => client.listNamespaces(), () => adminClient(flags));
  });
  adminOptions(subcommand(namespace, 'show', 'show one hosted namespace (admin key)').requiredOption('-n, --name <name>', NAME_HELP), ['hybridge namespace show -n session-4711']).action(async (flags: AdminFlags) => {
    const name = checkedName(flags.name);
    await runManagement(flags, (client) => client.getNamespace(name), () => adminClient(flags));
  });
  adminOptions(subcommand(namespace, 'delete', 'delete a hosted namespace and its data, cutting its listeners and senders at once (admin key)').requiredOption('-n, --name <name>', NAME_HELP), ['hybridge namespace delete -n session-4711']).action(async (flags: AdminFlags) => {
    const name = checkedName(flags.name);
    await runManagement(flags, (client) => client.deleteNamespace(name), () => adminClient(flags));
  });
}

function adminOptions(command: Command, examples: readonly string[]): Command {
  return withExamples(command, examples, EXIT_CODES.management)
    .option('--server <url>', `the relay: ws://, http://, wss://, https:// or sb:// with host and port (default: $${SERVER_ENV})`)
    .option('--admin-key-file <file>', `the relay's admin key (the file given to \`hybridge server --admin-key-file\`; default: $${ADMIN_KEY_ENV})`)
    .option('--ca <file>', 'PEM certificate to trust for an https relay (repeatable)', collect)
    .option('-o, --output <format>', 'json, tsv or none', 'json')
    .option('--query <path>', 'print only this field, e.g. rootConnectionString or [].name')
    .option('-g, --resource-group <name>', 'ignored (az compatibility)')
    .option('--subscription <id>', 'ignored (az compatibility)');
}

function checkedName(name: string | undefined): string {
  const problem = namespaceNameProblem(name ?? '');
  if (problem) fail(`--name: ${problem}`);
  return name!.toLowerCase();
}

function quotasFrom(flags: AdminFlags): NamespaceQuotas | undefined {
  const quotas: NamespaceQuotas = {};
  if (flags.maxConnections !== undefined) quotas.maxConnections = parsePositiveInt(flags.maxConnections, '--max-connections', 1, 1_000_000);
  if (flags.maxListeners !== undefined) quotas.maxListenersPerHyco = parsePositiveInt(flags.maxListeners, '--max-listeners', 1, 1000);
  if (flags.maxHycos !== undefined) quotas.maxHybridConnections = parsePositiveInt(flags.maxHycos, '--max-hycos', 1, 100_000);
  if (flags.maxRules !== undefined) quotas.maxRulesPerScope = parsePositiveInt(flags.maxRules, '--max-rules', 1, 12);
  return Object.keys(quotas).length > 0 ? quotas : undefined;
}

function adminClient(flags: AdminFlags, env: NodeJS.ProcessEnv = process.env): ManagementClient {
  const server = flags.server ?? env[SERVER_ENV];
  if (!server) fail(`no relay: pass --server URL or set ${SERVER_ENV} (e.g. http://127.0.0.1:9350)`);
  let endpoint: RelayEndpoint;
  try {
    endpoint = parseRelayEndpoint(server);
  } catch (err) {
    fail(`--server: ${(err as Error).message}`);
  }
  if (endpoint.namespacePath) fail('--server names the relay itself, not one of its namespaces: drop the /$ns/... path');
  const key = readSecret({ file: { path: flags.adminKeyFile, name: '--admin-key-file' }, variable: ADMIN_KEY_ENV }, env);
  if (!key) fail(`no admin key: pass --admin-key-file FILE or set ${ADMIN_KEY_ENV} (the relay's, from \`hybridge server --admin-key-file\`)`);
  const proxy = proxyFrom({}, (line) => process.stderr.write(`hybridge: warning: ${line}\n`), env);
  const ca = flags.ca?.map((file) => readPemFile(file, '--ca'));
  return new ManagementClient({ endpoint, credential: { adminKey: key.value }, ca, proxy });
}
