/**
 * JSON commands on the control channel and rendezvous sockets (protocol reference §2). Every
 * command is one WebSocket text message; a body, when announced, is the next binary message.
 */
import { connectionIdFrom } from './hybridge-extensions.js';
import { setOwn } from './own-property.js';

export interface RemoteEndpointInfo {
  address: string;
  port: number;
}

export type HeaderMap = Record<string, string | string[]>;

export interface AcceptCommand {
  address: string;
  id: string;
  connectHeaders: Record<string, string>;
  remoteEndpoint?: RemoteEndpointInfo;
}

/** A relayed HTTP request; the address-only form carries just `address` and `id`. */
export interface RequestCommand {
  address: string;
  id: string;
  requestTarget?: string;
  method?: string;
  remoteEndpoint?: RemoteEndpointInfo;
  requestHeaders?: HeaderMap;
  body?: boolean;
  /** hybridge extension (hybridge-extensions.ts): the client connection the request came on. */
  hybridgeConnection?: string;
}

export interface ResponseCommand {
  requestId: string;
  statusCode: number;
  statusDescription?: string;
  responseHeaders?: HeaderMap;
  body: boolean;
}

export interface RenewTokenCommand {
  token: string;
}

export type ServiceCommand =
  | { kind: 'accept'; accept: AcceptCommand }
  | { kind: 'request'; request: RequestCommand }
  | { kind: 'abort'; requestId: string }
  | { kind: 'connectionClosed'; connection: string }
  | { kind: 'unknown'; name: string };
export type ListenerCommand = { kind: 'response'; response: ResponseCommand } | { kind: 'renewToken'; renewToken: RenewTokenCommand } | { kind: 'unknown'; name: string };

export class ControlMessageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ControlMessageError';
  }
}

/** Control messages must stay below 64 KiB: the .NET listener reads them into a 64 KiB buffer. */
export const MAX_CONTROL_MESSAGE_BYTES = 64 * 1024;

function parseObject(text: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new ControlMessageError('control message is not valid JSON');
  }
  if (!isRecord(value)) throw new ControlMessageError('control message is not a JSON object');
  return value;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function requireString(obj: Record<string, unknown>, field: string, where: string): string {
  const v = obj[field];
  if (typeof v !== 'string' || v.length === 0) throw new ControlMessageError(`${where}.${field} must be a non-empty string`);
  return v;
}

function optionalString(obj: Record<string, unknown>, field: string, where: string): string | undefined {
  const v = obj[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw new ControlMessageError(`${where}.${field} must be a string`);
  return v;
}

function optionalBoolean(obj: Record<string, unknown>, field: string, where: string): boolean | undefined {
  const v = obj[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') throw new ControlMessageError(`${where}.${field} must be a boolean`);
  return v;
}

function parseRemoteEndpoint(v: unknown): RemoteEndpointInfo | undefined {
  if (!isRecord(v)) return undefined;
  if (typeof v.address !== 'string' || typeof v.port !== 'number') return undefined;
  return { address: v.address, port: v.port };
}

/** Header maps: string values; numbers are stringified; arrays of strings are kept (Set-Cookie). */
export function parseHeaderMap(v: unknown, where: string): HeaderMap | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isRecord(v)) throw new ControlMessageError(`${where} must be an object`);
  const out: HeaderMap = {};
  for (const [name, value] of Object.entries(v)) {
    if (typeof value === 'string') setOwn(out, name, value);
    else if (typeof value === 'number' || typeof value === 'boolean') setOwn(out, name, String(value));
    else if (Array.isArray(value) && value.every((x) => typeof x === 'string')) setOwn(out, name, value as string[]);
    else throw new ControlMessageError(`${where}["${name}"] must be a string`);
  }
  return out;
}

function flattenHeaders(map: HeaderMap | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(map ?? {})) setOwn(out, k, Array.isArray(v) ? v.join(', ') : v);
  return out;
}

/** Parses what the service sends to a listener: `accept` or `request`. */
export function parseServiceCommand(text: string): ServiceCommand {
  const obj = parseObject(text);
  if (isRecord(obj.accept)) {
    const a = obj.accept;
    const accept: AcceptCommand = {
      address: requireString(a, 'address', 'accept'),
      id: requireString(a, 'id', 'accept'),
      connectHeaders: flattenHeaders(parseHeaderMap(a.connectHeaders, 'accept.connectHeaders')),
    };
    const remote = parseRemoteEndpoint(a.remoteEndpoint);
    if (remote) accept.remoteEndpoint = remote;
    return { kind: 'accept', accept };
  }
  if (isRecord(obj.request)) {
    const r = obj.request;
    const request: RequestCommand = { address: requireString(r, 'address', 'request'), id: requireString(r, 'id', 'request') };
    const target = optionalString(r, 'requestTarget', 'request');
    const method = optionalString(r, 'method', 'request');
    const headers = parseHeaderMap(r.requestHeaders, 'request.requestHeaders');
    const body = optionalBoolean(r, 'body', 'request');
    const remote = parseRemoteEndpoint(r.remoteEndpoint);
    if (target !== undefined) request.requestTarget = target;
    if (method !== undefined) request.method = method;
    if (headers !== undefined) request.requestHeaders = headers;
    if (body !== undefined) request.body = body;
    if (remote) request.remoteEndpoint = remote;
    const connection = connectionIdFrom(r.hybridgeConnection);
    if (connection) request.hybridgeConnection = connection;
    return { kind: 'request', request };
  }
  if (isRecord(obj.hybridgeAbort)) return { kind: 'abort', requestId: requireString(obj.hybridgeAbort, 'id', 'hybridgeAbort') };
  if (isRecord(obj.hybridgeConnectionClosed)) {
    const connection = connectionIdFrom(obj.hybridgeConnectionClosed.connection);
    if (!connection) throw new ControlMessageError('hybridgeConnectionClosed.connection must be a string of 1 to 128 characters');
    return { kind: 'connectionClosed', connection };
  }
  return { kind: 'unknown', name: Object.keys(obj)[0] ?? '' };
}

/** Parses what a listener sends to the service: `response` or `renewToken`. */
export function parseListenerCommand(text: string): ListenerCommand {
  const obj = parseObject(text);
  if (isRecord(obj.response)) {
    const r = obj.response;
    const rawStatus = r.statusCode;
    const statusCode = typeof rawStatus === 'string' && /^\d{3}$/.test(rawStatus) ? Number(rawStatus) : rawStatus;
    if (typeof statusCode !== 'number' || !Number.isInteger(statusCode) || statusCode < 100 || statusCode > 999) {
      throw new ControlMessageError('response.statusCode must be a number from 100 to 999');
    }
    const response: ResponseCommand = {
      requestId: requireString(r, 'requestId', 'response'),
      statusCode,
      body: optionalBoolean(r, 'body', 'response') ?? false,
    };
    const description = optionalString(r, 'statusDescription', 'response');
    const headers = parseHeaderMap(r.responseHeaders, 'response.responseHeaders');
    if (description !== undefined) response.statusDescription = description;
    if (headers !== undefined) response.responseHeaders = headers;
    return { kind: 'response', response };
  }
  if (isRecord(obj.renewToken)) {
    return { kind: 'renewToken', renewToken: { token: requireString(obj.renewToken, 'token', 'renewToken') } };
  }
  return { kind: 'unknown', name: Object.keys(obj)[0] ?? '' };
}

export function encodeCommand(name: 'accept', body: AcceptCommand): string;
export function encodeCommand(name: 'request', body: RequestCommand): string;
export function encodeCommand(name: 'response', body: ResponseCommand): string;
export function encodeCommand(name: 'renewToken', body: RenewTokenCommand): string;
export function encodeCommand(name: string, body: unknown): string {
  return JSON.stringify({ [name]: body });
}
