/**
 * aztunnel's target-selection layer (reference aztunnel-and-peers.md §1.3.2). On a fresh rendezvous
 * WebSocket the sender's first message is one text frame holding a ConnectEnvelope
 * `{"version":1,"target":"host:port","metadata":{..}?,"bridge_id":".."?}`; the listener answers with
 * one text frame holding a ConnectResponse `{"version":1,"ok":..,"error":..?,"code":..?,"listener_id":..?}`.
 * Binary data frames follow a successful response. Field names and omission rules follow aztunnel
 * (empty strings are left out), so either end can be an aztunnel.
 *
 * hybridge adds `"half_close":true` to both (aztunnel's Go decoder ignores unknown fields): an end
 * that carries half-close says so, and towards an end that does not (an aztunnel), a hybridge end
 * keeps the whole connection open until the peer ends it instead of sending a Close that aztunnel
 * would take as the end of everything.
 */
import { randomBytes } from 'node:crypto';
import { isIP } from 'node:net';

/**
 * aztunnel reads each WebSocket message with coder/websocket's default limit and fails the
 * connection on anything larger, so tunnels never send data messages above this size.
 */
export const AZTUNNEL_MAX_MESSAGE_BYTES = 32 * 1024;

export const ENVELOPE_VERSION = 1;
/** Largest envelope a listener reads; aztunnel's are well under 300 bytes. */
export const MAX_ENVELOPE_BYTES = 4096;
/** Largest response a sender reads. */
export const MAX_RESPONSE_BYTES = 4096;
const MAX_BRIDGE_ID_LENGTH = 64;

/** The `error` strings a listener answers with. The first five are aztunnel's own, byte for byte. */
export const Rejection = {
  InvalidEnvelope: 'invalid envelope',
  UnsupportedVersion: 'unsupported protocol version',
  MissingTarget: 'missing target',
  TargetNotAllowed: 'target not allowed',
  ConnectionFailed: 'connection failed',
  /** hybridge: the target is not a valid host:port (aztunnel would fail it later, less clearly). */
  InvalidTarget: 'invalid target',
  /** hybridge: `--max-connections` reached; aztunnel drops the accept and lets the sender hang. */
  AtCapacity: 'listener at capacity',
} as const;
export type RejectionMessage = (typeof Rejection)[keyof typeof Rejection];

/** The `code` values that come with "connection failed" (aztunnel's six). */
export const DIAL_FAILURE_CODES = [
  'connection_refused',
  'host_unreachable',
  'network_unreachable',
  'timeout',
  'dns_not_found',
  'dns_timeout',
] as const;
export type DialFailureCode = (typeof DIAL_FAILURE_CODES)[number];
/** hybridge's code for the "listener at capacity" refusal. */
export const CAPACITY_CODE = 'max_connections';

export function isDialFailureCode(value: unknown): value is DialFailureCode {
  return typeof value === 'string' && (DIAL_FAILURE_CODES as readonly string[]).includes(value);
}

export interface ConnectEnvelope {
  /** `host:port` with IPv6 literals bracketed, exactly as the sender wrote it. */
  target: string;
  metadata?: Record<string, string>;
  /** Sender-minted correlation id (16 base32 characters for aztunnel and hybridge). */
  bridgeId?: string;
  /** hybridge: the sender carries half-close (`"half_close":true`); aztunnel senders leave it out. */
  halfClose?: boolean;
}

export interface ConnectResponse {
  ok: boolean;
  error?: string;
  /** A dial failure code, `max_connections`, or a value from a newer peer (treat as generic). */
  code?: string;
  listenerId?: string;
  /** hybridge: the listener carries half-close (`"half_close":true`); aztunnel listeners leave it out. */
  halfClose?: boolean;
}

export class EnvelopeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EnvelopeError';
  }
}

export class TargetError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TargetError';
  }
}

// ---------------------------------------------------------------------------------------------
// Targets: host:port

export interface TargetAddress {
  /** Host name or IP literal, IPv6 without brackets. */
  host: string;
  port: number;
}

/** Parses `host:port`, `a.b.c.d:port` or `[v6]:port`; the port is 1..65535. Throws TargetError. */
export function parseTarget(text: string): TargetAddress {
  if (text.length > 300) throw new TargetError('target is too long');
  let host: string;
  let portText: string;
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close < 0) throw new TargetError(`"${text}" has no closing "]"`);
    host = text.slice(1, close);
    if (text[close + 1] !== ':') throw new TargetError(`"${text}" has no port; write [${host}]:port`);
    portText = text.slice(close + 2);
    if (host.includes('%')) throw new TargetError(`"${host}": IPv6 zone identifiers are not supported`);
    if (isIP(host) !== 6) throw new TargetError(`"${host}" in brackets is not an IPv6 address`);
  } else {
    const colon = text.lastIndexOf(':');
    if (colon < 0) throw new TargetError(`"${text}" has no port; write host:port`);
    host = text.slice(0, colon);
    portText = text.slice(colon + 1);
    if (host.includes(':')) throw new TargetError(`IPv6 address "${host}" must be bracketed: [${host}]:${portText}`);
    const problem = hostProblem(host);
    if (problem) throw new TargetError(problem);
  }
  return { host, port: parsePortNumber(portText, text) };
}

/** `host:port`, bracketing IPv6 literals. */
export function formatTarget(host: string, port: number): string {
  return isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`;
}

/** Why `host` is not an IPv4 literal or host name, or undefined when it is one. IPv6 is checked by the caller. */
export function hostProblem(host: string): string | undefined {
  if (host === '') return 'the host is empty';
  if (isIP(host) === 4) return undefined;
  const name = host.endsWith('.') ? host.slice(0, -1) : host;
  if (name.length === 0 || name.length > 253) return `"${host}" is not a valid host name`;
  const labels = name.split('.');
  if (!labels.every((label) => /^[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$/.test(label))) {
    return `"${host}" is not a valid host name`;
  }
  // getaddrinfo reads "10.1", "0x0a000001" or "010.0.0.1" as IPv4 addresses; as names they would slip
  // past IP and CIDR checks, so a host whose last label looks numeric must be a proper IPv4 literal.
  if (/^(?:[0-9]+|0x[0-9a-f]*)$/i.test(labels[labels.length - 1]!)) return `"${host}" is not a valid IPv4 address or host name`;
  return undefined;
}

function parsePortNumber(portText: string, whole: string): number {
  if (!/^[0-9]{1,5}$/.test(portText)) throw new TargetError(`"${whole}" has no valid port; the port is a number from 1 to 65535`);
  const port = Number(portText);
  if (port < 1 || port > 65535) throw new TargetError(`port ${portText} in "${whole}" is out of range 1..65535`);
  return port;
}

// ---------------------------------------------------------------------------------------------
// Envelope (sender → listener)

/** The envelope as one JSON text frame, fields in aztunnel's order. Throws TargetError on a bad target. */
export function encodeConnectEnvelope(envelope: ConnectEnvelope): string {
  parseTarget(envelope.target);
  const wire: Record<string, unknown> = { version: ENVELOPE_VERSION, target: envelope.target };
  if (envelope.metadata && Object.keys(envelope.metadata).length > 0) wire.metadata = envelope.metadata;
  if (envelope.bridgeId) wire.bridge_id = envelope.bridgeId;
  if (envelope.halfClose) wire.half_close = true;
  return JSON.stringify(wire);
}

export type EnvelopeParseResult =
  | { ok: true; envelope: ConnectEnvelope; address: TargetAddress }
  | { ok: false; rejection: RejectionMessage; detail: string };

/**
 * Validates a sender's first message. On failure, `rejection` is the `error` string to answer with and
 * `detail` says why, for the log. Version and type rules follow what aztunnel's Go decoder accepts: a
 * missing version is version 0 (unsupported), a version of the wrong JSON type is an invalid envelope.
 */
export function parseConnectEnvelope(data: string | Uint8Array): EnvelopeParseResult {
  const invalid = (detail: string): EnvelopeParseResult => ({ ok: false, rejection: Rejection.InvalidEnvelope, detail });
  let value: unknown;
  try {
    value = parseBoundedJson(data, MAX_ENVELOPE_BYTES);
  } catch (err) {
    if (!(err instanceof EnvelopeError)) throw err;
    return invalid(err.message);
  }
  if (!isPlainObject(value)) return invalid('the envelope is not a JSON object');

  const version = value.version ?? 0;
  if (typeof version !== 'number' || !Number.isInteger(version)) return invalid('"version" is not an integer');
  if (version !== ENVELOPE_VERSION) {
    return { ok: false, rejection: Rejection.UnsupportedVersion, detail: `version ${version}, this listener speaks ${ENVELOPE_VERSION}` };
  }

  const target = value.target ?? '';
  if (typeof target !== 'string') return invalid('"target" is not a string');
  if (target === '') return { ok: false, rejection: Rejection.MissingTarget, detail: 'the envelope has no target' };
  let address: TargetAddress;
  try {
    address = parseTarget(target);
  } catch (err) {
    if (!(err instanceof TargetError)) throw err;
    return { ok: false, rejection: Rejection.InvalidTarget, detail: err.message };
  }

  const envelope: ConnectEnvelope = { target };
  const metadata = value.metadata ?? undefined;
  if (metadata !== undefined) {
    if (!isPlainObject(metadata)) return invalid('"metadata" is not a JSON object');
    const entries = Object.entries(metadata);
    if (!entries.every(([, v]) => typeof v === 'string')) return invalid('"metadata" values must be strings');
    if (entries.length > 0) envelope.metadata = Object.fromEntries(entries) as Record<string, string>;
  }
  const bridgeId = value.bridge_id ?? '';
  if (typeof bridgeId !== 'string') return invalid('"bridge_id" is not a string');
  if (bridgeId.length > MAX_BRIDGE_ID_LENGTH || !/^[\x21-\x7e]*$/.test(bridgeId)) return invalid('"bridge_id" is too long or not printable ASCII');
  if (bridgeId) envelope.bridgeId = bridgeId;
  // Only a literal true counts; anything else is a peer that does not carry half-close.
  if (value.half_close === true) envelope.halfClose = true;
  return { ok: true, envelope, address };
}

// ---------------------------------------------------------------------------------------------
// Response (listener → sender)

/** The response as one JSON text frame, fields in aztunnel's order, empty strings left out. */
export function encodeConnectResponse(response: ConnectResponse): string {
  const wire: Record<string, unknown> = { version: ENVELOPE_VERSION, ok: response.ok };
  if (response.error) wire.error = response.error;
  if (response.code) wire.code = response.code;
  if (response.listenerId) wire.listener_id = response.listenerId;
  if (response.halfClose) wire.half_close = true;
  return JSON.stringify(wire);
}

export function acceptedResponse(listenerId?: string): ConnectResponse {
  return listenerId ? { ok: true, listenerId } : { ok: true };
}

/** A refusal; only "connection failed" (with a dial code) and "listener at capacity" carry a code. */
export function rejectedResponse(error: RejectionMessage, code?: DialFailureCode | typeof CAPACITY_CODE, listenerId?: string): ConnectResponse {
  const response: ConnectResponse = { ok: false, error };
  if (code) response.code = code;
  if (listenerId) response.listenerId = listenerId;
  return response;
}

export function capacityResponse(listenerId?: string): ConnectResponse {
  return rejectedResponse(Rejection.AtCapacity, CAPACITY_CODE, listenerId);
}

/** Parses a listener's answer. Throws EnvelopeError when it is not a version-1 ConnectResponse. */
export function parseConnectResponse(data: string | Uint8Array): ConnectResponse {
  let value: unknown;
  try {
    value = parseBoundedJson(data, MAX_RESPONSE_BYTES);
  } catch (err) {
    if (!(err instanceof EnvelopeError)) throw err;
    throw new EnvelopeError(`listener response: ${err.message}`);
  }
  if (!isPlainObject(value)) throw new EnvelopeError('listener response is not a JSON object');
  if (value.version !== ENVELOPE_VERSION) throw new EnvelopeError(`listener response has unsupported protocol version ${JSON.stringify(value.version)}`);
  if (typeof value.ok !== 'boolean') throw new EnvelopeError('listener response has no boolean "ok"');
  const response: ConnectResponse = { ok: value.ok };
  for (const [wireName, field] of [['error', 'error'], ['code', 'code'], ['listener_id', 'listenerId']] as const) {
    const text = value[wireName] ?? '';
    if (typeof text !== 'string') throw new EnvelopeError(`listener response "${wireName}" is not a string`);
    if (text) response[field] = text;
  }
  if (value.half_close === true) response.halfClose = true;
  return response;
}

// ---------------------------------------------------------------------------------------------
// Correlation ids: 10 random bytes as 16 characters of unpadded RFC 4648 base32 (aztunnel's shape)

const BASE32_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

export function newTunnelId(random: (size: number) => Uint8Array = randomBytes): string {
  return base32NoPadding(random(10));
}

export function isTunnelId(value: string): boolean {
  return /^[A-Z2-7]{16}$/.test(value);
}

export function base32NoPadding(bytes: Uint8Array): string {
  let out = '';
  let bits = 0;
  let buffer = 0;
  for (const byte of bytes) {
    buffer = ((buffer << 8) | byte) & 0xffff;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += BASE32_ALPHABET[(buffer >> bits) & 31];
    }
  }
  if (bits > 0) out += BASE32_ALPHABET[(buffer << (5 - bits)) & 31];
  return out;
}

// ---------------------------------------------------------------------------------------------

function parseBoundedJson(data: string | Uint8Array, limit: number): unknown {
  const size = typeof data === 'string' ? Buffer.byteLength(data) : data.byteLength;
  if (size > limit) throw new EnvelopeError(`${size} bytes exceeds the ${limit}-byte limit`);
  let text: string;
  try {
    text = typeof data === 'string' ? data : new TextDecoder('utf-8', { fatal: true }).decode(data);
  } catch {
    throw new EnvelopeError('not valid UTF-8');
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new EnvelopeError('not valid JSON');
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
