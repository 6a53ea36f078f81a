import { ManagementHttpError, ManagementNetworkError, type ManagementClient } from '../../client/management-client.js';
import { CliError, ExitCode } from '../errors.js';
import { clientFromFlags } from './client-from-flags.js';
import type { ManagementFlags } from './options.js';
import { checkOutputFlags, printResult, type OutputFlags } from './output.js';

/**
 * Runs one management call: flags are checked first (exit 2), the relay's answer is printed (or
 * nothing, for `undefined`), and relay or network failures become one-line errors (exit 1).
 */
export async function runManagement(flags: OutputFlags, call: (client: ManagementClient) => Promise<unknown>, clientOf: () => ManagementClient = () => clientFromFlags(flags as ManagementFlags)): Promise<void> {
  checkOutputFlags(flags);
  const client = clientOf();
  let result: unknown;
  try {
    result = await call(client);
  } catch (err) {
    throw explain(err, client.baseUrl);
  }
  if (result !== undefined) printResult(result, flags);
}

/** One call to the relay, its failures turned into one-line errors (exit 1) as runManagement does. */
export async function callRelay<T>(client: ManagementClient, call: (client: ManagementClient) => Promise<T>): Promise<T> {
  try {
    return await call(client);
  } catch (err) {
    throw explain(err, client.baseUrl);
  }
}

function explain(err: unknown, baseUrl: string): Error {
  if (err instanceof ManagementNetworkError) return new CliError(networkMessage(err, baseUrl), ExitCode.Failure);
  if (err instanceof ManagementHttpError) return new CliError(httpMessage(err), ExitCode.Failure);
  return err instanceof Error ? err : new Error(String(err));
}

function networkMessage(err: ManagementNetworkError, baseUrl: string): string {
  switch (err.kind) {
    case 'refused':
      return `cannot reach the relay at ${baseUrl} (connection refused); is \`hybridge server\` running?`;
    case 'dns':
      return `cannot reach the relay at ${baseUrl} (${err.detail}); check the Endpoint in the connection string`;
    case 'tls':
      return `cannot talk to the relay at ${baseUrl} (${err.detail}); trust its certificate with --ca FILE or NODE_EXTRA_CA_CERTS=FILE`;
    case 'handshake':
      return `cannot talk to the relay at ${baseUrl} (${err.detail}); if the relay serves plain HTTP, use a ws:// Endpoint`;
    case 'reset':
      return baseUrl.startsWith('http:')
        ? `the relay at ${baseUrl} closed the connection without an answer; if it serves TLS, use an sb:// Endpoint`
        : `the relay at ${baseUrl} closed the connection without an answer; is it a hybridge relay?`;
    case 'proxy':
      return `cannot reach the relay at ${baseUrl}: ${err.detail}`;
    case 'timeout':
      return `the relay at ${baseUrl} did not answer (${err.detail}); check that it is running and reachable`;
    default:
      return `cannot reach the relay at ${baseUrl} (${err.detail})`;
  }
}

function httpMessage(err: ManagementHttpError): string {
  const hint =
    err.status === 401
      ? '; check SharedAccessKeyName and SharedAccessKey in the connection string'
      : err.status === 403
        ? '; use the connection string of a rule with Manage rights in the right scope'
        : '';
  return `${err.message} (HTTP ${err.status})${hint}`;
}
