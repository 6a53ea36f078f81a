import { ConnectionStringError, parseConnectionString } from '../../protocol/connection-string.js';
import { EndpointError, parseRelayEndpoint } from '../../protocol/relay-endpoint.js';
import { MAX_KEY_LENGTH, MAX_KEY_NAME_LENGTH, parseSasToken, SasTokenError } from '../../protocol/sas-token.js';
import { ValueError } from './config-error.js';
import { ADDRESS_FAMILIES, LOG_LEVELS, type AddressFamily, type LogLevel } from './model.js';

/** Checks of single global values. Messages name the problem, never a secret value. */

export const RANGES = {
  ConnectTimeout: [0, 120],
  ConnectionAttempts: [1, 10],
  KeepAliveInterval: [0, 3600],
  Prewarm: [0, 1000],
  MaxUdpFlows: [1, 100_000],
} as const satisfies Record<string, readonly [number, number]>;

export function checkRange(value: number, label: keyof typeof RANGES): number {
  const [min, max] = RANGES[label];
  if (!Number.isInteger(value) || value < min || value > max) throw new ValueError(`${label} ${value} is out of range ${min}..${max}`);
  return value;
}

export function checkLogLevel(text: string): LogLevel {
  const level = text.toLowerCase() as LogLevel;
  if (!LOG_LEVELS.includes(level)) throw new ValueError(`LogLevel "${text}" is not one of ${LOG_LEVELS.map((l) => l.toUpperCase()).join(', ')}`);
  return level;
}

export function checkAddressFamily(text: string): AddressFamily {
  const family = text.toLowerCase() as AddressFamily;
  if (!ADDRESS_FAMILIES.includes(family)) throw new ValueError(`AddressFamily "${text}" is not one of any, inet, inet6`);
  return family;
}

/** -K: azbridge allows letters, digits, '-' and '_'. */
export function checkKeyName(text: string): string {
  if (!/^[A-Za-z0-9_-]+$/.test(text)) throw new ValueError(`shared access key name "${text}" may contain only letters, digits, '-' and '_'`);
  if (text.length > MAX_KEY_NAME_LENGTH) throw new ValueError(`shared access key name is longer than ${MAX_KEY_NAME_LENGTH} characters`);
  return text;
}

/** -k: must be base64, as Convert.FromBase64String requires. The value is never echoed. */
export function checkKey(text: string): string {
  if (!text || !/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(text)) {
    throw new ValueError('the shared access key is not valid base64');
  }
  if (text.length > MAX_KEY_LENGTH) throw new ValueError(`the shared access key is longer than ${MAX_KEY_LENGTH} characters`);
  return text;
}

/** -s: a whole `SharedAccessSignature sr=..&sig=..&se=..&skn=..` token; its expiry is the relay's to judge. */
export function checkSignature(text: string): string {
  if (!text) throw new ValueError('the shared access signature is empty');
  try {
    parseSasToken(text);
  } catch (err) {
    if (err instanceof SasTokenError) throw new ValueError(`the shared access signature is malformed: ${err.message}`);
    throw err;
  }
  return text;
}

export function checkEndpoint(text: string): string {
  try {
    parseRelayEndpoint(text);
    return text;
  } catch (err) {
    if (err instanceof EndpointError) throw new ValueError(`invalid relay endpoint: ${err.message}`);
    throw err;
  }
}

/** Parsed only to check it; ConnectionStringError messages name keys, never values. */
export function checkConnectionString(text: string): string {
  try {
    parseConnectionString(text);
    return text;
  } catch (err) {
    if (err instanceof ConnectionStringError) throw new ValueError(`invalid connection string: ${err.message}`);
    throw err;
  }
}

const TRUE_WORDS = new Set(['true', 'yes', 'on', 'y']);
const FALSE_WORDS = new Set(['false', 'no', 'off', 'n']);

/** YAML 1.1 style booleans (CONFIG.md's examples write `GatewayPorts : no`). */
export function parseBooleanText(text: string): boolean | undefined {
  const word = text.trim().toLowerCase();
  if (TRUE_WORDS.has(word)) return true;
  if (FALSE_WORDS.has(word)) return false;
  return undefined;
}

export function parseIntegerText(text: string): number | undefined {
  const t = text.trim();
  return /^[+-]?\d+$/.test(t) ? Number(t) : undefined;
}
