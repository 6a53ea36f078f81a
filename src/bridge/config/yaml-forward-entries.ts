import type { Node } from 'yaml';
import { checkDnsHostName, checkListenAddress, checkTargetHost } from './addresses.js';
import { BridgeConfigError, ValueError } from './config-error.js';
import { httpBasePath } from './http-base-path.js';
import { tooManyBindings } from './limits.js';
import type { LocalForwardEntry } from './layer.js';
import type { LocalBinding, RemoteBinding, RemoteForward } from './model.js';
import { checkPort, checkPortName, checkRelayName, defaultSocketPortName, parsePortText } from './names.js';
import { checkConnectionString, checkRange } from './values.js';
import type { LocatedPoolSettings } from './pool-settings.js';
import { POOL_KEYS, readPoolKeys } from './yaml-pool-keys.js';
import { checked, readBoolean, readInteger, readList, readMapping, readString, type MappingValue, type YamlContext } from './yaml-values.js';

/**
 * LocalForward / RemoteForward entries (reference/azbridge.md §2.4, §2.5). An entry carries either
 * one binding's keys inline or a `Bindings` list, not both. Entry-level NoAuthentication (local) and
 * Insecure / Http (remote) are defaults for every binding of the entry; a binding may override them.
 * Beyond azbridge: `RemoteHostName` (CONFIG.md's name) is accepted as HostName, `Path` may be given
 * for Http bindings, `Prewarm` sets pre-opened sender connections per LocalForward entry, and ports
 * may be written `5000U` as well as azbridge's negative `-5000` for UDP. `LoadBalancing` and
 * `HealthCheck` (entry or binding) set the policy of the target pool a binding belongs to.
 */

const LOCAL_BINDING_KEYS = ['BindAddress', 'BindPort', 'BindLocalSocket', 'PortName', 'HostName', 'RemoteHostName', 'NoAuthentication'];
const LOCAL_ENTRY_KEYS = ['RelayName', 'ConnectionString', 'Bindings', 'Prewarm', ...LOCAL_BINDING_KEYS];
const REMOTE_BINDING_KEYS = ['Host', 'HostPort', 'PortName', 'LocalSocket', 'Http', 'Insecure', 'Path', 'ConnectionAffinity', ...POOL_KEYS];
const REMOTE_ENTRY_KEYS = ['RelayName', 'ConnectionString', 'Bindings', ...REMOTE_BINDING_KEYS];
/** Entry keys that are defaults for all bindings rather than a binding of their own. */
const ENTRY_DEFAULTS = new Set<string>(['NoAuthentication', 'Http', 'Insecure', 'ConnectionAffinity', ...POOL_KEYS]);

type Mapping = Map<string, MappingValue>;

export function readLocalForwardList(entry: MappingValue, ctx: YamlContext): LocalForwardEntry[] {
  return boundedList(entry, ctx).map((node) => readLocalEntry(node, ctx));
}

export function readRemoteForwardList(entry: MappingValue, ctx: YamlContext): RemoteForward[] {
  return boundedList(entry, ctx).map((node) => readRemoteEntry(node, ctx));
}

/** The items of a forwarder list, refused before any is read when there are more than a configuration may hold. */
function boundedList(entry: MappingValue, ctx: YamlContext): Node[] {
  const items = readList(entry, ctx);
  const problem = tooManyBindings(items.length, entry.key);
  if (problem) throw new BridgeConfigError(`${ctx.where(entry.value ?? entry.keyNode)}: ${problem}`);
  return items;
}

function readLocalEntry(node: Node, ctx: YamlContext): LocalForwardEntry {
  const m = readMapping(node, LOCAL_ENTRY_KEYS, 'a LocalForward entry', ctx);
  const common = readEntryCommon(m, node, 'LocalForward', ctx);
  const noAuthentication = optional(m, 'NoAuthentication', (e) => readBoolean(e, ctx)) ?? false;
  const bindings = bindingMappings(m, node, LOCAL_BINDING_KEYS, 'a LocalForward binding', ctx).map(([b, at]) => readLocalBinding(b, at, noAuthentication, ctx));
  const prewarm = optional(m, 'Prewarm', (e) => checked(e, ctx, () => checkRange(readInteger(e, ctx), 'Prewarm')));
  return { ...common, bindings, ...(prewarm !== undefined && { prewarm }) };
}

function readRemoteEntry(node: Node, ctx: YamlContext): RemoteForward {
  const m = readMapping(node, REMOTE_ENTRY_KEYS, 'a RemoteForward entry', ctx);
  const common = readEntryCommon(m, node, 'RemoteForward', ctx);
  const defaults = {
    http: optional(m, 'Http', (e) => readBoolean(e, ctx)) ?? false,
    insecure: optional(m, 'Insecure', (e) => readBoolean(e, ctx)) ?? false,
    affinity: optional(m, 'ConnectionAffinity', (e) => readBoolean(e, ctx)),
    pool: readPoolKeys(m, ctx),
  };
  const bindings = bindingMappings(m, node, REMOTE_BINDING_KEYS, 'a RemoteForward binding', ctx).map(([b, at]) => readRemoteBinding(b, at, defaults, ctx));
  return { ...common, bindings };
}

function readEntryCommon(m: Mapping, node: Node, what: string, ctx: YamlContext): { relayName: string; connectionString?: string; source: string } {
  const relay = m.get('RelayName');
  if (!relay) throw new BridgeConfigError(`${ctx.where(node)}: a ${what} entry needs RelayName`);
  const relayName = checked(relay, ctx, () => checkRelayName(readString(relay, ctx)));
  const connectionString = optional(m, 'ConnectionString', (e) => checked(e, ctx, () => checkConnectionString(readString(e, ctx))));
  return { relayName, ...(connectionString !== undefined && { connectionString }), source: ctx.where(node) };
}

/** The binding mappings of an entry: its `Bindings` items, or the entry itself. */
function bindingMappings(m: Mapping, node: Node, keys: readonly string[], what: string, ctx: YamlContext): [Mapping, Node][] {
  const list = m.get('Bindings');
  if (!list) return [[m, node]];
  const inline = [...m.values()].find((e) => keys.includes(e.key) && !ENTRY_DEFAULTS.has(e.key));
  if (inline) throw new BridgeConfigError(`${ctx.where(inline.keyNode)}: ${inline.key} is a binding key; with Bindings, put it in the list items`);
  const items = boundedList(list, ctx);
  if (items.length === 0) throw new BridgeConfigError(`${ctx.where(list.value ?? list.keyNode)}: Bindings is empty`);
  return items.map((item) => [readMapping(item, keys, what, ctx), item]);
}

function readLocalBinding(m: Mapping, node: Node, defaultNoAuth: boolean, ctx: YamlContext): LocalBinding {
  const portEntry = m.get('BindPort');
  const socketEntry = m.get('BindLocalSocket');
  exactlyOne(portEntry, socketEntry, node, 'BindPort', 'BindLocalSocket', ctx);
  const noAuthentication = optional(m, 'NoAuthentication', (e) => readBoolean(e, ctx)) ?? defaultNoAuth;
  const hostName = readHostName(m, ctx);
  const explicitName = optional(m, 'PortName', (e) => checked(e, ctx, () => checkPortName(readString(e, ctx))));
  const common = { noAuthentication, ...(hostName !== undefined && { hostName }) };
  if (socketEntry) {
    const path = checked(socketEntry, ctx, () => checkSocketPath(readString(socketEntry, ctx)));
    const portName = explicitName ?? checked(socketEntry, ctx, () => defaultSocketPortName(path));
    return { kind: 'unix', path, portName, ...common };
  }
  const port = readPort(portEntry!, ctx);
  const bindAddress = optional(m, 'BindAddress', (e) => checked(e, ctx, () => checkListenAddress(readString(e, ctx), ctx.isLocal)));
  return { kind: port.protocol, port: port.port, portName: explicitName ?? port.name, ...(bindAddress !== undefined && { bindAddress }), ...common };
}

function readRemoteBinding(m: Mapping, node: Node, defaults: { http: boolean; insecure: boolean; affinity?: boolean; pool?: LocatedPoolSettings }, ctx: YamlContext): RemoteBinding {
  const http = optional(m, 'Http', (e) => readBoolean(e, ctx)) ?? defaults.http;
  const pool = readPoolKeys(m, ctx, defaults.pool);
  const poolFields = pool ? { pool } : {};
  const insecure = optional(m, 'Insecure', (e) => readBoolean(e, ctx)) ?? defaults.insecure;
  const host = optional(m, 'Host', (e) => checked(e, ctx, () => checkTargetHost(readString(e, ctx)))) ?? 'localhost';
  const explicitName = optional(m, 'PortName', (e) => checked(e, ctx, () => checkPortName(readString(e, ctx))));
  const portEntry = m.get('HostPort');
  const socketEntry = m.get('LocalSocket');
  const pathEntry = m.get('Path');
  const affinityEntry = m.get('ConnectionAffinity');
  const affinity = affinityEntry ? readBoolean(affinityEntry, ctx) : defaults.affinity;
  if (http) {
    if (socketEntry) throw new BridgeConfigError(`${ctx.where(socketEntry.keyNode)}: an Http binding forwards to Host and HostPort, not LocalSocket`);
    if (pool) throw new BridgeConfigError(`${pool.where}: LoadBalancing and HealthCheck apply to TCP, UDP and Unix-socket bindings; Http bindings of a relay always take turns`);
    const scheme = explicitName?.toLowerCase();
    if (scheme !== 'http' && scheme !== 'https') {
      throw new BridgeConfigError(`${ctx.where(m.get('PortName')?.value ?? node)}: an Http binding needs PortName http or https`);
    }
    const port = portEntry ? checked(portEntry, ctx, () => checkPort(readInteger(portEntry, ctx), 'HostPort')) : scheme === 'http' ? 80 : 443;
    const path = pathEntry ? checked(pathEntry, ctx, () => httpBasePath(readString(pathEntry, ctx).split('/'))) : '/';
    return { kind: 'http', portName: scheme, scheme, host, port, path, insecure, ...(affinity !== undefined && { connectionAffinity: affinity }) };
  }
  if (affinity !== undefined) throw new BridgeConfigError(`${ctx.where((affinityEntry ?? m.get('Http'))?.keyNode ?? node)}: ConnectionAffinity applies only to bindings with Http: true`);
  if (pathEntry) throw new BridgeConfigError(`${ctx.where(pathEntry.keyNode)}: Path applies only to bindings with Http: true`);
  exactlyOne(portEntry, socketEntry, node, 'HostPort', 'LocalSocket', ctx);
  if (socketEntry) {
    const path = checked(socketEntry, ctx, () => checkSocketPath(readString(socketEntry, ctx)));
    return { kind: 'unix', portName: explicitName ?? checked(socketEntry, ctx, () => defaultSocketPortName(path)), path, ...poolFields };
  }
  const port = readPort(portEntry!, ctx);
  return { kind: port.protocol, portName: explicitName ?? port.name, host, port: port.port, ...poolFields };
}

/** BindPort / HostPort: positive TCP, negative UDP (azbridge), or `5000U`. */
function readPort(entry: MappingValue, ctx: YamlContext): { protocol: 'tcp' | 'udp'; port: number; name: string } {
  return checked(entry, ctx, () => {
    const text = readString(entry, ctx);
    const written = parsePortText(text);
    if (written) return { protocol: written.protocol, port: written.port, name: written.text };
    const n = readInteger(entry, ctx);
    if (n === 0) throw new ValueError('port 0 is not a port; use 1..65535 for TCP, -1..-65535 for UDP');
    const port = checkPort(Math.abs(n), 'port');
    return n > 0 ? { protocol: 'tcp', port, name: String(port) } : { protocol: 'udp', port, name: `${port}U` };
  });
}

function readHostName(m: Mapping, ctx: YamlContext): string | undefined {
  const a = m.get('HostName');
  const b = m.get('RemoteHostName');
  if (a && b) throw new BridgeConfigError(`${ctx.where(b.keyNode)}: RemoteHostName is another name for HostName; give only one`);
  const e = a ?? b;
  return e ? checked(e, ctx, () => checkDnsHostName(readString(e, ctx))) : undefined;
}

function checkSocketPath(path: string): string {
  if (!path) throw new ValueError('the socket path is empty');
  if (path.includes('\0')) throw new ValueError('the socket path contains a NUL character');
  return path;
}

function exactlyOne(a: MappingValue | undefined, b: MappingValue | undefined, node: Node, aKey: string, bKey: string, ctx: YamlContext): void {
  if (a && b) throw new BridgeConfigError(`${ctx.where(b.keyNode)}: give either ${aKey} or ${bKey}, not both`);
  if (!a && !b) throw new BridgeConfigError(`${ctx.where(node)}: a binding needs ${aKey} or ${bKey}`);
}

function optional<T>(m: Mapping, key: string, read: (entry: MappingValue) => T): T | undefined {
  const entry = m.get(key);
  return entry?.value === undefined ? undefined : read(entry);
}
