import { randomBytes } from 'node:crypto';
import { existsSync, writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import type { RedisPair } from '../relay/cluster/redis-connection.js';
import { FileNamespaceCatalog } from '../relay/namespaces/file-catalog.js';
import type { NamespaceCatalog } from '../relay/namespaces/namespace-catalog.js';
import { NamespaceHost } from '../relay/namespaces/namespace-host.js';
import type { Logger } from '../util/logger.js';
import { parsePositiveInt } from './common-options.js';
import { fail } from './errors.js';
import { readSecretFile } from './secret-input.js';

export const ADMIN_KEY_ENV = 'HYBRIDGE_ADMIN_KEY';

export interface NamespaceFlags {
  namespaceDomain?: string;
  adminKeyFile?: string;
  maxNamespaces: string;
}

/** `hybridge server`'s hosted-namespace flags (docs/namespaces.md). */
export function addNamespaceOptions(command: Command): Command {
  return command
    .option('--namespace-domain <domain>', 'address hosted namespaces as {namespace}.{domain} (wildcard DNS and certificate); without it they are addressed by the /$ns/{namespace} path prefix only')
    .option('--admin-key-file <file>', `the server-level admin key for \`hybridge namespace create|list|show|delete\` (its first line; a new random key is written there when the file does not exist) [env ${ADMIN_KEY_ENV}]`)
    .option('--max-namespaces <n>', 'hosted namespaces this relay (or cluster) may hold', '1000');
}

/** Checks the flags (exit 2 on a bad one) and reads or generates the admin key. */
export function namespaceSettingsFrom(flags: NamespaceFlags, log: Logger, env: NodeJS.ProcessEnv = process.env): { domain: string | undefined; adminKey: string | undefined; maxNamespaces: number } {
  const maxNamespaces = parsePositiveInt(flags.maxNamespaces, '--max-namespaces', 1, 100_000);
  const domain = flags.namespaceDomain?.trim().replace(/\.$/, '').toLowerCase();
  if (domain !== undefined && !/^(?=.{1,200}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/.test(domain)) {
    fail(`--namespace-domain "${flags.namespaceDomain!.slice(0, 100)}" is not a DNS name (e.g. relay.example.com)`);
  }
  return { domain, adminKey: adminKeyFrom(flags, log, env), maxNamespaces };
}

function adminKeyFrom(flags: NamespaceFlags, log: Logger, env: NodeJS.ProcessEnv): string | undefined {
  const fromEnv = env[ADMIN_KEY_ENV]?.trim();
  if (flags.adminKeyFile !== undefined && fromEnv) fail(`give either --admin-key-file or $${ADMIN_KEY_ENV}, not both`);
  if (fromEnv) return checkedKey(fromEnv, `$${ADMIN_KEY_ENV}`);
  const file = flags.adminKeyFile;
  if (file === undefined) return undefined;
  if (existsSync(file)) return checkedKey(readSecretFile(file, '--admin-key-file'), `--admin-key-file ${file}`);
  const key = randomBytes(32).toString('base64');
  try {
    writeFileSync(file, `${key}\n`, { mode: 0o600, flag: 'wx' });
  } catch (err) {
    fail(`--admin-key-file: cannot write a new key to ${file} (${(err as Error).message})`);
  }
  log.info({ adminKeyFile: file }, 'generated a new admin key into --admin-key-file');
  return key;
}

function checkedKey(key: string, where: string): string {
  if (!/^[\x21-\x7e]{16,256}$/.test(key)) fail(`${where}: the admin key must be 16 to 256 printable characters without spaces`);
  return key;
}

/** The relay's hosted namespaces: in the data directory, or in the cluster's Redis. */
export async function namespaceHostFor(settings: { adminKey: string | undefined; maxNamespaces: number }, where: { dataDir: string; redis?: RedisPair }, log: Logger): Promise<NamespaceHost> {
  let catalog: NamespaceCatalog;
  if (where.redis) {
    const { RedisNamespaceCatalog } = await import('../relay/cluster/redis-namespace-catalog.js');
    catalog = new RedisNamespaceCatalog(where.redis);
  } else catalog = new FileNamespaceCatalog(where.dataDir);
  return new NamespaceHost({ catalog, adminKey: settings.adminKey, maxNamespaces: settings.maxNamespaces, log });
}
