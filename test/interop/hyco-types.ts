/**
 * The small part of the hyco-ws@1.0.5 and hyco-https@1.4.5 APIs the interop tests use. Both are
 * untyped CommonJS packages; `loadHyco()` loads them with createRequire and gives them these types.
 */
import type { EventEmitter } from 'node:events';
import type { IncomingMessage } from 'node:http';
import { createRequire } from 'node:module';
import { patternBytes } from '../helpers/data.js';

/** A ws@1.1.5 WebSocket, which is what hyco-ws hands out on both sides. */
export interface Ws1Socket extends EventEmitter {
  readonly readyState: number;
  readonly protocol: string | undefined;
  send(data: string | Buffer, options?: { binary?: boolean }, callback?: (error?: Error) => void): void;
  close(code?: number, reason?: string): void;
  terminate(): void;
  pause(): void;
  resume(): void;
}

export interface HycoWsServer extends EventEmitter {
  /** The current control channel (replaced on every reconnect). */
  controlChannel: Ws1Socket;
  close(callback?: (error: Error | null) => void): void;
}

export interface HycoWsModule {
  new (address: string, protocols: string[] | null, options?: { headers?: Record<string, string> }): Ws1Socket;
  readonly OPEN: number;
  createRelayedServer(options: { server: string; token: string | (() => string) }, onConnection: (ws: Ws1Socket) => void): HycoWsServer;
  relayedConnect(address: string, token: string | null, onOpen?: (ws: Ws1Socket) => void): Ws1Socket;
  createRelayToken(uri: string, keyName: string, key: string, expirySeconds?: number): string;
}

/** hyco-https's response object: a subset of Node's ServerResponse. */
export interface HycoServerResponse {
  statusCode: number;
  statusMessage: string | undefined;
  setHeader(name: string, value: string): void;
  writeHead(statusCode: number, reason?: string, headers?: Record<string, string>): void;
  write(chunk: Buffer | string): boolean;
  end(chunk?: Buffer | string): void;
}

export interface HycoHttpsServer extends EventEmitter {
  listen(): void;
  close(callback?: (error: Error | null) => void): void;
}

export interface HycoHttpsModule {
  createRelayedServer(options: { server: string; token: string | (() => string) }, onRequest: (req: IncomingMessage, res: HycoServerResponse) => void): HycoHttpsServer;
  createRelayToken(uri: string, keyName: string, key: string, expirySeconds?: number): string;
}

const require = createRequire(import.meta.url);

export function loadHycoWs(): HycoWsModule {
  return require('hyco-ws') as HycoWsModule;
}

export function loadHycoHttps(): HycoHttpsModule {
  return require('hyco-https') as HycoHttpsModule;
}

/** Turns what ws@1.1.5 hands to 'message' (a string for text, a Buffer for binary) into bytes and a type. */
export function messageBytes(data: string | Buffer): { type: 'text' | 'binary'; bytes: Buffer } {
  return typeof data === 'string' ? { type: 'text', bytes: Buffer.from(data, 'utf8') } : { type: 'binary', bytes: data };
}

// ---- tasks for the child process (hyco-peer.ts) and their results ----

export interface PeerBase {
  /** ws://127.0.0.1:PORT or wss://127.0.0.1:PORT */
  wsBase: string;
  /** http://127.0.0.1:PORT or https://127.0.0.1:PORT */
  httpBase: string;
  entity: string;
  keyName: string;
  key: string;
  /** The child gives up (and says so) after this long. */
  timeoutMs: number;
}

/** One message the hyco-ws sender sends; the listener echoes it back. */
export interface EchoMessage {
  type: 'text' | 'binary';
  size: number;
  seed: number;
}

export interface WsEchoTask extends PeerBase {
  mode: 'ws-echo';
  messages: EchoMessage[];
  /** Sub-protocols the main sender offers. */
  protocols: string[];
}

export interface WsEchoResult {
  senderProtocol: string | undefined;
  listenerProtocols: (string | undefined)[];
  echoes: { type: 'text' | 'binary'; length: number; sha256: string }[];
  /** Echo of one text message through a second sender whose token travels in sb-hc-token. */
  queryTokenEcho: string;
}

/** A hyco-ws listener that stays up until killed; echoes binary as is and text as `${name}:${text}`. */
export interface WsListenerTask extends PeerBase {
  mode: 'ws-listener';
  name: string;
}

export interface HttpCase {
  id: string;
  client: 'request' | 'fetch';
  method: string;
  /** Path and query after the host; `{token}` is replaced by the URL-encoded send token. */
  path: string;
  tokenIn: 'ServiceBusAuthorization' | 'Authorization' | 'query';
  headers: Record<string, string>;
  requestSize: number;
  requestSeed: number;
  responseSize: number;
  responseSeed: number;
  status: number;
  reason: string;
  /** The listener writes the response in 64 KiB pieces instead of one end(buffer). */
  streamResponse: boolean;
}

export interface HttpTask extends PeerBase {
  mode: 'http';
  cases: HttpCase[];
}

export interface HttpCaseResult {
  id: string;
  sender: { status: number; reason: string; headers: Record<string, string>; bodyLength: number; bodySha: string };
  listener: { method: string; url: string; headers: Record<string, string | string[] | undefined>; bodyLength: number; bodySha: string } | undefined;
}

export type PeerTask = WsEchoTask | WsListenerTask | HttpTask;

/** The bytes of an echo message: pattern bytes, or for text an ASCII rendering of them. */
export function echoPayload(m: EchoMessage): Buffer {
  const bytes = patternBytes(m.size, m.seed);
  return m.type === 'text' ? Buffer.from(bytes.toString('base64').slice(0, m.size), 'utf8') : bytes;
}
