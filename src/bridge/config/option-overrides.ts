import { isMap, isSeq, parseDocument, Scalar, type Node } from 'yaml';
import { isLocalAddress, type LocalAddressCheck } from './addresses.js';
import { BridgeConfigError } from './config-error.js';
import { emptyLayer, type ConfigLayer } from './layer.js';
import { unquote } from './names.js';
import { applyGlobalEntry, GLOBAL_KEYS } from './yaml-layer.js';
import { canonicalKey, type YamlContext } from './yaml-values.js';

const LIST_KEYS = new Set(['LocalForward', 'RemoteForward']);
/** Keys whose value may also be a YAML flow mapping (`-o 'HealthCheck:{Interval: 5s}'`). */
const MAPPING_KEYS = new Set(['HealthCheck']);

/**
 * `-o key:value` overrides, all in one layer applied after the files. Unlike azbridge, the option is
 * split at the first ':' only, so values may contain ':' (`-o AzureRelayEndpoint:sb://ns.example/`).
 * The list keys take YAML flow syntax:
 *
 *   -o 'LocalForward:[{RelayName: db, BindPort: 16161}]'
 *   -o 'RemoteForward:{RelayName: db, Bindings: [{PortName: sql1, Host: sql1.corp, HostPort: 16161}]}'
 *
 * Other values are taken as text, quotes stripped, and converted like the file's values
 * (`-o ConnectTimeout:44`, `-o GatewayPorts:yes`).
 */
export function readOptionOverrides(options: readonly string[], isLocal: LocalAddressCheck = isLocalAddress): ConfigLayer {
  const layer = emptyLayer('-o');
  for (const option of options) applyOverride(layer, option, isLocal);
  return layer;
}

function applyOverride(layer: ConfigLayer, option: string, isLocal: LocalAddressCheck): void {
  const colon = option.indexOf(':');
  const keyText = unquote(colon < 0 ? option : option.slice(0, colon));
  if (colon < 0 || !keyText) throw new BridgeConfigError(`-o "${keyText}": expected key:value, e.g. -o ConnectTimeout:44`);
  const rawValue = option.slice(colon + 1);
  const valueText = rawValue.trim();
  const valueOffset = colon + 1 + (rawValue.length - rawValue.trimStart().length);
  const label = `-o ${keyText}`;
  if (!valueText) throw new BridgeConfigError(`${label}: the value is empty; expected ${keyText}:value`);

  const key = canonicalKey(keyText, GLOBAL_KEYS, label, 'the configuration');
  const isList = LIST_KEYS.has(key);
  if (isList && !/^[[{]/.test(valueText)) {
    throw new BridgeConfigError(`${label}: ${key} takes YAML flow syntax, e.g. -o '${key}:[{RelayName: name, BindPort: 8080}]'`);
  }
  const structured = isList || (MAPPING_KEYS.has(key) && valueText.startsWith('{'));
  const value = structured ? parseFlowValue(valueText, label, valueOffset) : new Scalar(valueText);
  const ctx: YamlContext = {
    where: (node) => (node?.range ? `${label} (column ${node.range[0] + valueOffset + 1})` : label),
    text: valueText,
    isLocal,
  };
  applyGlobalEntry(layer, { key, keyNode: new Scalar(keyText), value }, ctx);
}

function parseFlowValue(text: string, label: string, offset: number): Node {
  const doc = parseDocument(text, { prettyErrors: false });
  const error = doc.errors[0];
  if (error) throw new BridgeConfigError(`${label} (column ${error.pos[0] + offset + 1}): YAML syntax error: ${error.message.split('\n')[0]}`);
  const node = doc.contents as Node | null;
  if (!node || !(isSeq(node) || isMap(node))) throw new BridgeConfigError(`${label}: expected a YAML flow list [...] or mapping {...}`);
  return node;
}
