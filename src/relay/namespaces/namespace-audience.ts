import { audienceHost, audiencePath } from '../../protocol/sas-token.js';
import type { AudiencePathOf } from '../authorizer.js';
import { DEFAULT_NAMESPACE } from './namespace-name.js';
import { NAMESPACE_PATH_MARKER } from './namespace-address.js';

/**
 * Which token audiences belong to a hosted namespace: those naming it by host
 * (`http://{ns}.{domain}/hyco`) or by path prefix (`http://host/$ns/{ns}/hyco`). Any other
 * audience is refused before the key is looked at, so a token signed for namespace A is never
 * valid in namespace B, even when both have a rule of the same name with the same key. The
 * default namespace takes every host, as a single-namespace relay always has.
 */
export function namespaceAudience(namespace: string, domain: string | undefined): AudiencePathOf {
  if (namespace === DEFAULT_NAMESPACE) return audiencePath;
  const host = domain ? `${namespace}.${domain}`.toLowerCase() : undefined;
  const prefix = `${NAMESPACE_PATH_MARKER}/${namespace}`.toLowerCase();
  return (resource) => {
    const path = audiencePath(resource);
    if (path === undefined) return undefined;
    if (path === prefix) return '';
    if (path.startsWith(`${prefix}/`)) return path.slice(prefix.length + 1).replace(/^\$hc(?:\/|$)/, '');
    if (host !== undefined && audienceHost(resource) === host) return path;
    return undefined;
  };
}
