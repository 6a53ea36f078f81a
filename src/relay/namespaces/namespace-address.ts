import type { IncomingMessage } from 'node:http';
import type { RelayEndpoint } from '../../protocol/relay-endpoint.js';
import { DEFAULT_NAMESPACE } from './namespace-name.js';

/**
 * How a request names its namespace. By host name: `{ns}.{domain}` with `--namespace-domain
 * {domain}` (wildcard DNS and a wildcard certificate, as Azure's `{ns}.servicebus.windows.net`).
 * By path prefix, for set-ups without DNS: `/$ns/{ns}/...` before the usual path (`/$ns/{ns}/$hc/hyco`,
 * `/$ns/{ns}/hyco/...`, `/$ns/{ns}/$hybridge/v1/...`). `$` cannot appear in a hybrid connection's
 * name, so no path of the default namespace starts like that. Anything else is the default namespace.
 */
export const NAMESPACE_PATH_MARKER = '$ns';

const PATH_PREFIX = /^\/(?:\$|%24)ns\/([^/?#]*)(?=[/?#]|$)/i;

export interface NamespaceAddress {
  /** The namespace's name as the request spelled it, lower-cased ('' = the default namespace); not yet checked. */
  namespace: string;
  /** The request target without the path prefix (always starting with '/'). */
  url: string;
  /** What goes between host and path in the addresses the relay hands back (`/$ns/{ns}`, or ''). */
  basePath: string;
}

/** `/$ns/{namespace}`: the path prefix of a hosted namespace. */
export function namespaceBasePath(namespace: string): string {
  return `/${NAMESPACE_PATH_MARKER}/${namespace}`;
}

/** The namespace a request names (not yet looked up) and its target inside the namespace. */
export function namespaceAddressOf(req: IncomingMessage, domain: string | undefined): NamespaceAddress {
  const url = req.url ?? '/';
  const byHost = domain ? namespaceOfHost(req.headers.host, domain) : undefined;
  if (byHost !== undefined) return { namespace: byHost, url, basePath: '' };
  const prefix = PATH_PREFIX.exec(url);
  if (!prefix) return { namespace: DEFAULT_NAMESPACE, url, basePath: '' };
  const name = safeDecode(prefix[1]!).toLowerCase();
  const rest = url.slice(prefix[0].length);
  return { namespace: name, url: rest.startsWith('/') ? rest : `/${rest}`, basePath: namespaceBasePath(name) };
}

/** The first label of a Host header under `.{domain}` (the port dropped), or undefined for any other host. */
export function namespaceOfHost(host: string | undefined, domain: string): string | undefined {
  if (!host || host.startsWith('[')) return undefined;
  const name = host.replace(/:\d*$/, '').replace(/\.$/, '').toLowerCase();
  const suffix = `.${domain.toLowerCase()}`;
  if (!name.endsWith(suffix) || name.length === suffix.length) return undefined;
  return name.slice(0, -suffix.length);
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    // Not a valid name either way; the lookup refuses it.
    return text;
  }
}

/**
 * A namespace's endpoint in connection strings: the relay's own for the default namespace,
 * `{ns}.{domain}` (the relay's port and scheme) with a namespace domain, else the relay's with the
 * `/$ns/{ns}` path.
 */
export function namespaceEndpoint(relay: RelayEndpoint, namespace: string, domain: string | undefined): RelayEndpoint {
  if (namespace === DEFAULT_NAMESPACE) return relay;
  if (domain) return { secure: relay.secure, host: `${namespace}.${domain}`, port: relay.port };
  return { ...relay, namespacePath: namespaceBasePath(namespace) };
}
