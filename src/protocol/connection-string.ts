import { EndpointError, formatEndpoint, parseRelayEndpoint, type RelayEndpoint } from './relay-endpoint.js';
import { MAX_KEY_LENGTH, MAX_KEY_NAME_LENGTH } from './sas-token.js';

/** A parsed Relay connection string (protocol reference §5). */
export interface ConnectionString {
  endpoint: RelayEndpoint;
  entityPath?: string;
  sharedAccessKeyName?: string;
  sharedAccessKey?: string;
  sharedAccessSignature?: string;
  /** `Authentication=Managed Identity` (Microsoft Entra ID through DefaultAzureCredential). */
  managedIdentity?: boolean;
  /** OperationTimeout in milliseconds. */
  operationTimeoutMs?: number;
}

export class ConnectionStringError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConnectionStringError';
  }
}

const KNOWN_KEYS: Record<string, keyof ConnectionString | 'authentication'> = {
  endpoint: 'endpoint',
  entitypath: 'entityPath',
  sharedaccesskeyname: 'sharedAccessKeyName',
  sharedaccesskey: 'sharedAccessKey',
  sharedaccesssignature: 'sharedAccessSignature',
  operationtimeout: 'operationTimeoutMs',
  authentication: 'authentication',
};

/**
 * Splits on ';' (empty entries dropped), each pair on its first '=', keys case-insensitive, unknown
 * keys rejected, as the .NET RelayConnectionStringBuilder does. Error messages name keys, never values.
 */
export function parseConnectionString(text: string): ConnectionString {
  const raw = text.trim().replace(/^["']|["']$/g, '');
  const values = new Map<string, string>();
  for (const part of raw.split(';')) {
    if (!part.trim()) continue;
    const eq = part.indexOf('=');
    // Never echo the entry: a pasted bare key would end up in the message.
    if (eq <= 0) throw new ConnectionStringError('connection string has an entry that is not Key=Value (entries are separated by ";")');
    const key = part.slice(0, eq).trim();
    const lower = key.toLowerCase();
    if (!(lower in KNOWN_KEYS)) {
      throw new ConnectionStringError(`unknown connection string key "${key}"; known keys are Endpoint, EntityPath, SharedAccessKeyName, SharedAccessKey, SharedAccessSignature, Authentication, OperationTimeout`);
    }
    if (values.has(lower)) throw new ConnectionStringError(`connection string key "${key}" appears twice`);
    values.set(lower, part.slice(eq + 1).trim());
  }
  const endpointText = values.get('endpoint');
  if (!endpointText) throw new ConnectionStringError('connection string has no Endpoint');
  let endpoint: RelayEndpoint;
  try {
    endpoint = parseRelayEndpoint(endpointText);
  } catch (err) {
    throw new ConnectionStringError(`connection string Endpoint: ${(err as EndpointError).message}`);
  }
  const result: ConnectionString = { endpoint };
  const entityPath = values.get('entitypath');
  if (entityPath) result.entityPath = entityPath.replace(/^\/+|\/+$/g, '');
  const keyName = values.get('sharedaccesskeyname');
  const key = values.get('sharedaccesskey');
  const signature = values.get('sharedaccesssignature');
  const authentication = values.get('authentication');
  if ((keyName === undefined) !== (key === undefined)) {
    throw new ConnectionStringError('SharedAccessKeyName and SharedAccessKey must be given together');
  }
  if (signature !== undefined && keyName !== undefined) {
    throw new ConnectionStringError('SharedAccessSignature cannot be combined with SharedAccessKeyName/SharedAccessKey');
  }
  if (keyName !== undefined && key !== undefined) {
    if (!keyName || keyName.length > MAX_KEY_NAME_LENGTH) throw new ConnectionStringError('SharedAccessKeyName is empty or longer than 256 characters');
    if (!key || key.length > MAX_KEY_LENGTH) throw new ConnectionStringError('SharedAccessKey is empty or longer than 256 characters');
    result.sharedAccessKeyName = keyName;
    result.sharedAccessKey = key;
  }
  if (signature !== undefined) {
    if (!signature) throw new ConnectionStringError('SharedAccessSignature is empty');
    result.sharedAccessSignature = signature;
  }
  if (authentication !== undefined) {
    if (authentication.replace(/\s+/g, '').toLowerCase() !== 'managedidentity') {
      throw new ConnectionStringError(`Authentication "${authentication}" is not supported; the only value is "Managed Identity"`);
    }
    if (keyName !== undefined || signature !== undefined) {
      throw new ConnectionStringError('Authentication=Managed Identity cannot be combined with SharedAccessKeyName, SharedAccessKey or SharedAccessSignature');
    }
    result.managedIdentity = true;
  }
  const timeout = values.get('operationtimeout');
  if (timeout !== undefined) result.operationTimeoutMs = parseTimeSpan(timeout);
  return result;
}

/** The longest OperationTimeout: what one Node timer can wait (2^31 - 1 ms, about 24.8 days). */
export const MAX_OPERATION_TIMEOUT_MS = 2 ** 31 - 1;

/**
 * .NET TimeSpan text: `[d.]hh:mm[:ss[.fffffff]]`, or a whole number of days; at most
 * MAX_OPERATION_TIMEOUT_MS (a longer timer would fire at once).
 */
export function parseTimeSpan(text: string): number {
  const m = /^(?:(\d+)\.)?(\d{1,2}):(\d{1,2})(?::(\d{1,2})(?:\.(\d{1,7}))?)?$/.exec(text.trim());
  let ms: number;
  if (m) {
    const [, d, h, min, s, frac] = m;
    const hours = Number(h), minutes = Number(min), seconds = Number(s ?? 0);
    if (hours > 23 || minutes > 59 || seconds > 59) throw new ConnectionStringError(`OperationTimeout "${text}" is out of range`);
    const fraction = frac ? Number(`0.${frac}`) : 0;
    ms = Math.round(((Number(d ?? 0) * 24 + hours) * 3600 + minutes * 60 + seconds + fraction) * 1000);
  } else if (/^\d+$/.test(text.trim())) ms = Number(text.trim()) * 86_400_000;
  else throw new ConnectionStringError(`OperationTimeout "${text}" is not a TimeSpan such as 00:01:00`);
  if (!(ms <= MAX_OPERATION_TIMEOUT_MS)) throw new ConnectionStringError(`OperationTimeout "${text}" is longer than 24.20:31:23 (the longest timer)`);
  return ms;
}

export function formatTimeSpan(ms: number): string {
  const total = Math.floor(ms / 1000);
  const pad = (n: number) => String(n).padStart(2, '0');
  const days = Math.floor(total / 86400);
  const rest = `${pad(Math.floor((total % 86400) / 3600))}:${pad(Math.floor((total % 3600) / 60))}:${pad(total % 60)}`;
  return days > 0 ? `${days}.${rest}` : rest;
}

/** Formats a connection string in the order Azure prints them. */
export function formatConnectionString(cs: ConnectionString): string {
  const parts = [`Endpoint=${formatEndpoint(cs.endpoint)}`];
  if (cs.sharedAccessKeyName !== undefined) parts.push(`SharedAccessKeyName=${cs.sharedAccessKeyName}`);
  if (cs.sharedAccessKey !== undefined) parts.push(`SharedAccessKey=${cs.sharedAccessKey}`);
  if (cs.sharedAccessSignature !== undefined) parts.push(`SharedAccessSignature=${cs.sharedAccessSignature}`);
  if (cs.managedIdentity) parts.push('Authentication=Managed Identity');
  if (cs.operationTimeoutMs !== undefined) parts.push(`OperationTimeout=${formatTimeSpan(cs.operationTimeoutMs)}`);
  if (cs.entityPath) parts.push(`EntityPath=${cs.entityPath}`);
  return parts.join(';');
}
