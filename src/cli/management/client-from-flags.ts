import { ManagementClient, type ManagementCredential } from '../../client/management-client.js';
import { parseConnectionString, type ConnectionString } from '../../protocol/connection-string.js';
import { readPemFile } from '../common-options.js';
import { fail } from '../errors.js';
import { readSecret } from '../secret-input.js';
import { proxyFrom } from '../proxy-options.js';
import { CONNECTION_STRING_ENV, type ManagementFlags } from './options.js';

/** Builds a management client from -x (or $HYBRIDGE_CONNECTION_STRING), --ca and --proxy. */
export function clientFromFlags(flags: ManagementFlags, env: NodeJS.ProcessEnv = process.env): ManagementClient {
  const cs = connectionString(flags, env);
  const proxy = proxyFrom(flags, (line) => process.stderr.write(`hybridge: warning: ${line}\n`), env);
  return new ManagementClient({ endpoint: cs.endpoint, credential: credential(cs), ca: trustedCertificates(flags.ca, env), proxy });
}

function connectionString(flags: ManagementFlags, env: NodeJS.ProcessEnv): ConnectionString {
  const secret = readSecret(
    { flag: { value: flags.connectionString, name: '-x/--connection-string' }, file: { path: flags.connectionStringFile, name: '--connection-string-file' }, variable: CONNECTION_STRING_ENV },
    env,
  );
  if (!secret || !secret.value.trim()) {
    fail(
      `no credentials: pass -x/--connection-string or set ${CONNECTION_STRING_ENV} to the connection string of a rule with Manage rights ` +
        '(`hybridge server` prints the root one at first start)',
    );
  }
  try {
    // Parser messages name keys, never values, so they are safe to show.
    return parseConnectionString(secret.value);
  } catch (err) {
    fail(`${secret.where.startsWith('$') ? CONNECTION_STRING_ENV : secret.where}: ${(err as Error).message}`);
  }
}

function credential(cs: ConnectionString): ManagementCredential {
  if (cs.sharedAccessKeyName !== undefined && cs.sharedAccessKey !== undefined) return { keyName: cs.sharedAccessKeyName, key: cs.sharedAccessKey };
  if (cs.sharedAccessSignature !== undefined) return { sharedAccessSignature: cs.sharedAccessSignature };
  fail('the connection string needs SharedAccessKeyName and SharedAccessKey (or SharedAccessSignature): the hybridge relay manages entities with SAS rules, not Microsoft Entra ID');
}

/**
 * A `ca` option replaces Node's trust list, NODE_EXTRA_CA_CERTS included, so when --ca is given the
 * extra file is read here and passed along with it.
 */
function trustedCertificates(files: string[] | undefined, env: NodeJS.ProcessEnv): string[] | undefined {
  if (!files || files.length === 0) return undefined;
  const pems = files.map((file) => readPemFile(file, '--ca'));
  const extra = env.NODE_EXTRA_CA_CERTS;
  if (extra) pems.push(readPemFile(extra, 'NODE_EXTRA_CA_CERTS'));
  return pems;
}

