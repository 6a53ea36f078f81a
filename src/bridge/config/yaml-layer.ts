import { LineCounter, parseDocument, type Node } from 'yaml';
import { checkSourceAddress, isLocalAddress, type LocalAddressCheck } from './addresses.js';
import { BridgeConfigError } from './config-error.js';
import { emptyLayer, type ConfigLayer } from './layer.js';
import { MAX_CONFIG_FILE_BYTES, MAX_FORWARD_BINDINGS } from './limits.js';
import { checkAddressFamily, checkConnectionString, checkEndpoint, checkKey, checkKeyName, checkLogLevel, checkRange, checkSignature } from './values.js';
import { readLocalForwardList, readRemoteForwardList } from './yaml-forward-entries.js';
import { readHealthCheck, readLoadBalancing } from './yaml-pool-keys.js';
import { checked, readBoolean, readInteger, readMapping, readString, type MappingValue, type YamlContext } from './yaml-values.js';

/**
 * azbridge's top-level keys (reference/azbridge.md §2.2) plus hybridge's Prewarm, MaxUdpFlows and the target-pool
 * defaults LoadBalancing and HealthCheck (yaml-pool-keys.ts). Keys match
 * case-insensitively; anything else is an error naming the key and its line and column.
 */
export const GLOBAL_KEYS = [
  'AddressFamily',
  'AzureRelayConnectionString',
  'AzureRelayEndpoint',
  'AzureRelaySharedAccessKeyName',
  'AzureRelaySharedAccessKey',
  'AzureRelaySharedAccessSignature',
  'BindAddress',
  'ClearAllForwardings',
  'ConnectionAttempts',
  'ConnectTimeout',
  'ExitOnForwardFailure',
  'GatewayPorts',
  'KeepAliveInterval',
  'LocalForward',
  'LogLevel',
  'LogFileName',
  'RemoteForward',
  'Prewarm',
  'Multiplex',
  'MaxUdpFlows',
  'LoadBalancing',
  'HealthCheck',
] as const;

/**
 * Reads one configuration file's text (YAML, or JSON, which is YAML). `fileName` prefixes every
 * message as `fileName:line:column`. A text over MAX_CONFIG_FILE_BYTES is refused unparsed.
 */
export function readConfigText(text: string, fileName: string, isLocal: LocalAddressCheck = isLocalAddress): ConfigLayer {
  const size = Buffer.byteLength(text);
  if (size > MAX_CONFIG_FILE_BYTES) {
    throw new BridgeConfigError(`${fileName}: the configuration file is ${size} bytes; at most ${MAX_CONFIG_FILE_BYTES} are read (a bridge holds at most ${MAX_FORWARD_BINDINGS} forwarder bindings)`);
  }
  const source = text.replace(/^\uFEFF/, '');
  const lineCounter = new LineCounter();
  const doc = parseDocument(source, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const position = (offset: number) => {
    const { line, col } = lineCounter.linePos(offset);
    return `${fileName}:${line}:${col}`;
  };
  const firstError = doc.errors[0];
  if (firstError) {
    throw new BridgeConfigError(`${position(firstError.pos[0])}: YAML syntax error: ${firstError.message.split('\n')[0]}`);
  }
  const ctx: YamlContext = {
    where: (node) => (node?.range ? position(node.range[0]) : fileName),
    text: source,
    isLocal,
  };
  const layer = emptyLayer(fileName);
  const root = doc.contents as Node | null;
  if (root == null) return layer;
  for (const entry of readMapping(root, GLOBAL_KEYS, 'the configuration', ctx).values()) applyGlobalEntry(layer, entry, ctx);
  return layer;
}

/** Applies one top-level key to `layer`. An empty value (`Key:`) leaves the setting alone. */
export function applyGlobalEntry(layer: ConfigLayer, entry: MappingValue, ctx: YamlContext): void {
  if (entry.value === undefined) return;
  const s = layer.settings;
  const where = ctx.where(entry.value);
  const text = () => readString(entry, ctx);
  const check = <T>(fn: () => T): T => checked(entry, ctx, fn);
  switch (entry.key) {
    case 'AddressFamily':
      s.addressFamily = check(() => checkAddressFamily(text()));
      break;
    case 'AzureRelayConnectionString':
      layer.credentials.connectionString = { value: check(() => checkConnectionString(text())), where };
      break;
    case 'AzureRelayEndpoint':
      layer.credentials.endpoint = { value: check(() => checkEndpoint(text())), where };
      break;
    case 'AzureRelaySharedAccessKeyName':
      layer.credentials.keyName = { value: check(() => checkKeyName(text())), where };
      break;
    case 'AzureRelaySharedAccessKey':
      layer.credentials.key = { value: check(() => checkKey(text())), where };
      break;
    case 'AzureRelaySharedAccessSignature':
      layer.credentials.signature = { value: check(() => checkSignature(text())), where };
      break;
    case 'BindAddress':
      s.bindAddress = check(() => checkSourceAddress(text(), ctx.isLocal));
      break;
    case 'ClearAllForwardings':
      layer.clearAllForwardings = readBoolean(entry, ctx);
      break;
    case 'ConnectionAttempts':
      s.connectionAttempts = check(() => checkRange(readInteger(entry, ctx), 'ConnectionAttempts'));
      break;
    case 'ConnectTimeout':
      s.connectTimeout = check(() => checkRange(readInteger(entry, ctx), 'ConnectTimeout'));
      break;
    case 'ExitOnForwardFailure':
      s.exitOnForwardFailure = readBoolean(entry, ctx);
      break;
    case 'GatewayPorts':
      s.gatewayPorts = readBoolean(entry, ctx);
      break;
    case 'KeepAliveInterval':
      s.keepAliveInterval = check(() => checkRange(readInteger(entry, ctx), 'KeepAliveInterval'));
      break;
    case 'LocalForward':
      for (const forward of readLocalForwardList(entry, ctx)) layer.localForward.push(forward);
      break;
    case 'LogLevel':
      s.logLevel = check(() => checkLogLevel(text()));
      break;
    case 'LogFileName':
      s.logFileName = text();
      break;
    case 'RemoteForward':
      for (const forward of readRemoteForwardList(entry, ctx)) layer.remoteForward.push(forward);
      break;
    case 'Prewarm':
      s.prewarm = check(() => checkRange(readInteger(entry, ctx), 'Prewarm'));
      break;
    case 'Multiplex':
      s.mux = check(() => checkRange(readInteger(entry, ctx), 'Multiplex'));
      break;
    case 'MaxUdpFlows':
      s.maxUdpFlows = check(() => checkRange(readInteger(entry, ctx), 'MaxUdpFlows'));
      break;
    case 'LoadBalancing':
      s.loadBalancing = readLoadBalancing(entry, ctx);
      break;
    case 'HealthCheck':
      s.healthCheck = readHealthCheck(entry, ctx);
      break;
    default:
      throw new BridgeConfigError(`${where}: ${entry.key} is not handled`);
  }
}
