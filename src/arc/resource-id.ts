/**
 * The Azure resource id of an Arc-enabled machine (`--resource-id`, AZTUNNEL_ARC_RESOURCE_ID):
 *
 *   /subscriptions/{guid}/resourceGroups/{group}/providers/{Namespace}/{type}/{name}[/{type}/{name}...]
 *
 * e.g. `.../providers/Microsoft.HybridCompute/machines/web1`. Checked here, before any ARM call, so
 * that a typo is one line and exit code 2 rather than a 400 or 404 from ARM. Segments are limited to
 * the characters Azure resource names may have, so the id goes into the URL as it is.
 */
export interface ArcResourceId {
  /** The id as it goes into ARM URLs (no trailing slash). */
  id: string;
  subscription: string;
  resourceGroup: string;
  /** `Microsoft.HybridCompute/machines` */
  type: string;
  /** The machine's name (the last segment). */
  name: string;
}

export class ResourceIdError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ResourceIdError';
  }
}

const EXAMPLE = '/subscriptions/{subscription id}/resourceGroups/{group}/providers/Microsoft.HybridCompute/machines/{name}';
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const SEGMENT = /^[A-Za-z0-9._()-]+$/;
const NAMESPACE = /^[A-Za-z][A-Za-z0-9]*(\.[A-Za-z][A-Za-z0-9]*)+$/;
const MAX_LENGTH = 2048;

export function parseArcResourceId(text: string | undefined): ArcResourceId {
  const value = (text ?? '').trim().replace(/\/+$/, '');
  if (!value) throw new ResourceIdError(`no machine given: pass --resource-id ${EXAMPLE} (or set AZTUNNEL_ARC_RESOURCE_ID)`);
  const bad = (why: string): never => {
    throw new ResourceIdError(`--resource-id "${value.length > 200 ? value.slice(0, 200) + '...' : value}": ${why}; expected ${EXAMPLE}`);
  };
  if (value.length > MAX_LENGTH) bad(`longer than ${MAX_LENGTH} characters`);
  if (!value.startsWith('/')) bad('it must start with /subscriptions/');
  const parts = value.slice(1).split('/');
  if (parts.some((p) => p === '')) bad('it has an empty segment (//)');
  const [subscriptions, subscription, groups, resourceGroup, providers, namespace, ...rest] = parts;
  if (subscriptions?.toLowerCase() !== 'subscriptions' || subscription === undefined) bad('it must start with /subscriptions/');
  if (!GUID.test(subscription!)) bad(`"${subscription}" is not a subscription id (a GUID)`);
  if (groups?.toLowerCase() !== 'resourcegroups' || resourceGroup === undefined) bad('/resourceGroups/{group} must follow the subscription');
  if (providers?.toLowerCase() !== 'providers' || namespace === undefined) bad('/providers/{Namespace}/{type}/{name} must follow the resource group');
  if (!NAMESPACE.test(namespace!)) bad(`"${namespace}" is not a resource provider namespace (e.g. Microsoft.HybridCompute)`);
  if (rest.length < 2 || rest.length % 2 !== 0) bad('the resource type and name are missing or incomplete');
  for (const segment of [resourceGroup!, ...rest]) {
    if (!SEGMENT.test(segment)) bad(`"${segment}" has characters resource names cannot have`);
  }
  return {
    id: value,
    subscription: subscription!,
    resourceGroup: resourceGroup!,
    type: `${namespace}/${rest[0]}`,
    name: rest[rest.length - 1]!,
  };
}
