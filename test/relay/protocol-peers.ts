/**
 * Raw protocol peers for relay tests: a control channel and echo listener built on `ws` (so the
 * tests see exactly what goes over the wire), senders, handshake refusals, and a "healthy link"
 * that proves a failure elsewhere on the relay disturbed nothing.
 */
import assert from 'node:assert/strict';
import { request } from 'node:http';
import type { Duplex } from 'node:stream';
import WebSocket from 'ws';
import type { AcceptCommand, RequestCommand } from '../../src/protocol/control-messages.js';
import { Opcode } from '../../src/protocol/websocket-frame.js';
import { openWebSocket, WebSocketHandshakeError, type OpenedWebSocket, type OpenWebSocketOptions } from '../../src/websocket/client-handshake.js';
import { WsConnection } from '../../src/websocket/connection.js';
import { drainOrClose, waitFor, withTimeout } from '../helpers/async.js';
import { Digest, patternBytes, sha256 } from '../helpers/data.js';
import { startRelay, type StartRelayOptions, type TestRelay } from '../helpers/relay.js';

/** What the peers need to know about a relay (a TestRelay, or one running in a child process). */
export type RelayAddress = Pick<TestRelay, 'port' | 'wsBase' | 'httpBase' | 'token'>;

/** Default bound for any single wait in these tests. */
export const WAIT_MS = 5000;

/** `ws[s]://host:port/$hc/{pathAndSuffix}?[{query}&]sb-hc-action={action}` */
export function hcUrl(relay: RelayAddress, pathAndSuffix: string, action: string, query = ''): string {
  return `${relay.wsBase}/$hc/${pathAndSuffix}?${query ? `${query}&` : ''}sb-hc-action=${action}`;
}

export function toBuffer(data: WebSocket.RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

export interface Refusal {
  status: number;
  message: string;
  body: string;
  /** How long the relay took to answer. */
  elapsedMs: number;
}

/** Opens a WebSocket that the relay is expected to refuse; returns the status line and body. */
export async function expectRefusal(url: string, headers: Record<string, string> = {}, timeoutMs = WAIT_MS, signal?: AbortSignal): Promise<Refusal> {
  const started = Date.now();
  try {
    const opened = await openWebSocket(url, { headers, timeoutMs, signal });
    opened.socket.destroy();
  } catch (err) {
    if (err instanceof WebSocketHandshakeError) return { status: err.statusCode, message: err.statusMessage, body: err.body, elapsedMs: Date.now() - started };
    throw err;
  }
  assert.fail(`expected the relay to refuse ${url.replace(/sb-hc-token=[^&]*/, 'sb-hc-token=…')}, but the handshake succeeded`);
}

/** What a plain HTTP request to the relay got back. */
export interface HttpAnswer {
  status: number;
  reason: string;
  headers: Record<string, string>;
  body: Buffer;
  elapsedMs: number;
}

export async function httpRequest(url: string, init: { method?: string; headers?: Record<string, string>; body?: Buffer; localAddress?: string } = {}, timeoutMs = WAIT_MS): Promise<HttpAnswer> {
  const started = Date.now();
  let req: ReturnType<typeof request> | undefined;
  return withTimeout(
    new Promise<HttpAnswer>((resolve, reject) => {
      const target = new URL(url);
      req = request(
        { host: target.hostname.replace(/^\[(.*)\]$/, '$1'), port: target.port, path: `${target.pathname}${target.search}`, method: init.method ?? 'GET', headers: init.headers, agent: false, localAddress: init.localAddress },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const headers: Record<string, string> = {};
            for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(', ') : v;
            resolve({ status: res.statusCode ?? 0, reason: res.statusMessage ?? '', headers, body: Buffer.concat(chunks), elapsedMs: Date.now() - started });
          });
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(init.body);
    }),
    timeoutMs,
    `HTTP ${init.method ?? 'GET'} ${url}`,
  ).finally(() => req?.destroy());
}

/**
 * Waits (bounded) for a `ws` client to open. A refused handshake rejects with
 * "`role` refused: status message" and the status on the error; on any failure the socket is terminated.
 */
async function opened(ws: WebSocket, role: string, what: string): Promise<void> {
  await withTimeout(
    new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('unexpected-response', (_req, res) => {
        reject(Object.assign(new Error(`${role} refused: ${res.statusCode} ${res.statusMessage}`), { status: res.statusCode, statusMessage: res.statusMessage }));
        res.resume();
      });
      ws.once('error', reject);
    }),
    WAIT_MS,
    what,
  ).catch((err: unknown) => {
    ws.terminate();
    throw err;
  });
}

export interface RawListenerOptions {
  /** sb-hc-id on the listen URL: the listener id used by Allowed/DisallowedListeners. */
  id?: string;
  /** Defaults to a root token for the entity. */
  token?: string;
  /** The local address to connect from (e.g. 127.0.0.2, for the relay's IP rules). */
  localAddress?: string;
  /** Further headers on the listen handshake. */
  headers?: Record<string, string>;
  onAccept?(accept: AcceptCommand, listener: RawListener): void;
  /** `body` is the binary message that followed a request with `body: true`. */
  onRequest?(request: RequestCommand, body: Buffer | undefined, listener: RawListener): void;
}

/**
 * A listener control channel spoken by hand over `ws`. It records every accept and request and
 * the close code the relay sent; what to do with an accept is up to `onAccept`.
 */
export class RawListener {
  readonly accepts: AcceptCommand[] = [];
  readonly requests: RequestCommand[] = [];
  /** Rendezvous sockets this listener opened (echo listeners). */
  readonly rendezvous: WebSocket[] = [];
  closeCode: number | undefined;
  closeReason = '';
  readonly closed: Promise<{ code: number; reason: string }>;
  private pendingRequest: RequestCommand | undefined;

  private constructor(
    readonly ws: WebSocket,
    private readonly options: RawListenerOptions,
  ) {
    this.closed = new Promise((resolve) => {
      ws.on('close', (code, reason) => {
        this.closeCode = code;
        this.closeReason = reason.toString('utf8');
        resolve({ code, reason: this.closeReason });
      });
    });
    ws.on('error', () => undefined);
    ws.on('message', (data, isBinary) => this.onMessage(toBuffer(data), isBinary));
  }

  static async open(relay: RelayAddress, entity: string, options: RawListenerOptions = {}): Promise<RawListener> {
    const query = options.id ? `sb-hc-id=${encodeURIComponent(options.id)}` : '';
    const url = `${relay.wsBase}/$hc/${entity}?sb-hc-action=listen${query ? `&${query}` : ''}`;
    const ws = new WebSocket(url, { headers: { ...options.headers, ServiceBusAuthorization: options.token ?? relay.token(entity) }, perMessageDeflate: false, localAddress: options.localAddress });
    const listener = new RawListener(ws, options);
    await opened(ws, 'listen', `listener on ${entity}`);
    return listener;
  }

  get isOpen(): boolean {
    return this.ws.readyState === WebSocket.OPEN;
  }

  sendJson(command: unknown): void {
    this.ws.send(JSON.stringify(command));
  }

  /** Resolves once `count` accepts have arrived. */
  async waitAccepts(count: number, timeoutMs = WAIT_MS): Promise<AcceptCommand[]> {
    await waitFor(() => this.accepts.length >= count, timeoutMs, `${count} accept(s)`);
    return this.accepts;
  }

  async waitRequests(count: number, timeoutMs = WAIT_MS): Promise<RequestCommand[]> {
    await waitFor(() => this.requests.length >= count, timeoutMs, `${count} request(s)`);
    return this.requests;
  }

  async waitClosed(timeoutMs = WAIT_MS): Promise<{ code: number; reason: string }> {
    return withTimeout(this.closed, timeoutMs, 'control channel close');
  }

  /** Closes the control channel and every rendezvous socket, waiting (bounded) for the close. */
  async close(): Promise<void> {
    for (const ws of this.rendezvous) ws.terminate();
    if (this.ws.readyState === WebSocket.CLOSED) return;
    this.ws.close(1000);
    try {
      await withTimeout(this.closed, 2000, 'control channel close');
    } catch {
      this.ws.terminate();
    }
  }

  terminate(): void {
    for (const ws of this.rendezvous) ws.terminate();
    this.ws.terminate();
  }

  private onMessage(data: Buffer, isBinary: boolean): void {
    if (isBinary) {
      const request = this.pendingRequest;
      this.pendingRequest = undefined;
      if (request) this.options.onRequest?.(request, data, this);
      return;
    }
    const message = JSON.parse(data.toString('utf8')) as { accept?: AcceptCommand; request?: RequestCommand };
    if (message.accept) {
      this.accepts.push(message.accept);
      this.options.onAccept?.(message.accept, this);
    } else if (message.request) {
      this.requests.push(message.request);
      if (message.request.body) this.pendingRequest = message.request;
      else this.options.onRequest?.(message.request, undefined, this);
    }
  }
}

/** A header from a name → value map, by case-insensitive name. */
export function headerOf(headers: Record<string, string>, name: string): string | undefined {
  const key = Object.keys(headers).find((k) => k.toLowerCase() === name);
  return key === undefined ? undefined : headers[key];
}

/** Opens the accept address and echoes every message back with its type; text gets `prefix`. */
export function acceptAndEcho(accept: AcceptCommand, listener: RawListener, prefix = '', localAddress?: string): WebSocket {
  const protocol = headerOf(accept.connectHeaders, 'sec-websocket-protocol');
  const ws = new WebSocket(accept.address, protocol ? [protocol.split(',')[0]!.trim()] : [], { perMessageDeflate: false, maxPayload: 256 * 1024 * 1024, localAddress });
  ws.on('error', () => undefined);
  ws.on('message', (data, isBinary) => {
    if (isBinary) ws.send(toBuffer(data), { binary: true });
    else ws.send(prefix + toBuffer(data).toString('utf8'));
  });
  listener.rendezvous.push(ws);
  return ws;
}

/** A control channel that echoes every sender it is offered. */
export function startEchoListener(relay: RelayAddress, entity: string, options: { id?: string; prefix?: string } = {}): Promise<RawListener> {
  return RawListener.open(relay, entity, { id: options.id, onAccept: (accept, listener) => acceptAndEcho(accept, listener, options.prefix) });
}

export interface SenderOptions {
  headers?: Record<string, string>;
  protocols?: string[];
  /** Token for the ServiceBusAuthorization header; defaults to a root token; null sends none. */
  token?: string | null;
  /** The local address to connect from (e.g. 127.0.0.2, for the relay's IP rules). */
  localAddress?: string;
}

/** Opens a sender WebSocket (`ws` client); rejects with the status when the relay refuses. */
export async function openSender(relay: RelayAddress, entity: string, options: SenderOptions & { pathAndSuffix?: string; query?: string } = {}): Promise<WebSocket> {
  const headers: Record<string, string> = { ...options.headers };
  const token = options.token === undefined ? relay.token(entity) : options.token;
  if (token !== null) headers.ServiceBusAuthorization = token;
  const url = hcUrl(relay, options.pathAndSuffix ?? entity, 'connect', options.query);
  const ws = new WebSocket(url, options.protocols ?? [], { headers, perMessageDeflate: false, maxPayload: 256 * 1024 * 1024, localAddress: options.localAddress });
  ws.on('error', () => undefined);
  await opened(ws, 'sender', `sender on ${entity}`);
  return ws;
}

/** The next message on `ws`, with its type. */
export function nextMessage(ws: WebSocket, timeoutMs = WAIT_MS): Promise<{ data: Buffer; isBinary: boolean }> {
  return withTimeout(
    new Promise((resolve, reject) => {
      const onMessage = (data: WebSocket.RawData, isBinary: boolean) => {
        ws.off('close', onClose);
        resolve({ data: toBuffer(data), isBinary });
      };
      const onClose = (code: number) => {
        ws.off('message', onMessage);
        reject(new Error(`socket closed (${code}) while waiting for a message`));
      };
      ws.once('message', onMessage);
      ws.once('close', onClose);
    }),
    timeoutMs,
    'message',
  );
}

/** Sends `payload` as one binary message and checks the echo byte for byte (length and SHA-256). */
export async function assertBinaryEcho(ws: WebSocket, payload: Buffer, timeoutMs = WAIT_MS): Promise<void> {
  const reply = nextMessage(ws, timeoutMs);
  ws.send(payload, { binary: true });
  const { data, isBinary } = await reply;
  assert.equal(isBinary, true, 'echo must stay binary');
  assert.equal(data.length, payload.length, 'echo length');
  assert.equal(sha256(data), sha256(payload), 'echo SHA-256');
}

export function closedPromise(ws: WebSocket): Promise<{ code: number; reason: string }> {
  if (ws.readyState === WebSocket.CLOSED) return Promise.resolve({ code: 1006, reason: '' });
  return new Promise((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString('utf8') })));
}

/**
 * A long-lived sender ↔ echo-listener connection on its own hybrid connection of the relay under
 * test. `check()` after a failure proves the failure disturbed nothing else: same sockets, a fresh
 * SHA-checked payload through them.
 */
export class HealthyLink {
  private seed = 9000;
  private disturbed: string | undefined;

  private constructor(
    readonly listener: RawListener,
    readonly sender: WebSocket,
  ) {
    sender.on('close', (code) => (this.disturbed ??= `sender socket closed (${code})`));
    void listener.closed.then(({ code }) => (this.disturbed ??= `listener control channel closed (${code})`));
  }

  static async start(relay: RelayAddress, entity = 'healthy'): Promise<HealthyLink> {
    const listener = await startEchoListener(relay, entity);
    const sender = await openSender(relay, entity);
    const link = new HealthyLink(listener, sender);
    await link.check(1);
    return link;
  }

  /** Exchanges a fresh payload over the same connection; fails if anything about the link changed. */
  async check(size = 256 * 1024): Promise<void> {
    assert.equal(this.disturbed, undefined, `the healthy connection was disturbed: ${this.disturbed}`);
    assert.equal(this.listener.rendezvous.length, 1, 'the healthy listener keeps exactly its one connection');
    await assertBinaryEcho(this.sender, patternBytes(size, this.seed++));
    assert.equal(this.disturbed, undefined, `the healthy connection was disturbed: ${this.disturbed}`);
  }

  async close(): Promise<void> {
    this.sender.terminate();
    await this.listener.close();
  }
}

/** How many relayed connections the relay holds on `entity`. */
export function relayedOn(relay: TestRelay, entity: string): number {
  return [...relay.server.relayedConnections].filter((c) => c.entity === entity).length;
}

/** Starts a relay with `options` (its hybrid connections must include 'healthy') and a HealthyLink on it. */
export async function startRelayWithHealthyLink(options: StartRelayOptions): Promise<{ relay: TestRelay; healthy: HealthyLink }> {
  const relay = await startRelay(options);
  try {
    return { relay, healthy: await HealthyLink.start(relay) };
  } catch (err) {
    await relay.stop();
    throw err;
  }
}

/** Undoes startRelayWithHealthyLink (either may be missing when the start failed). */
export async function stopRelayWithHealthyLink(relay: TestRelay | undefined, healthy: HealthyLink | undefined): Promise<void> {
  await healthy?.close();
  await relay?.stop();
}

/** One whole message a FramePeer received. */
export interface ReceivedMessage {
  binary: boolean;
  length: number;
  sha256: string;
  /** The text of small text messages. */
  text?: string;
  /** How many frames it came in. */
  frames: number;
}

/**
 * A WebSocket client built on hybridge's own frame layer (src/websocket), which keeps the two
 * directions independent: it can go on sending after the peer's Close, and it sees frames, Close
 * codes and the socket's end exactly as they arrive.
 */
export class FramePeer {
  readonly messages: ReceivedMessage[] = [];
  /** Payload bytes received so far (all messages). */
  bytes = 0;
  peerClose: { code: number; reason: string } | undefined;
  closed: { code: number; reason: string } | undefined;
  readonly conn: WsConnection;
  private current: { binary: boolean; digest: Digest; text: Buffer[]; frames: number } | undefined;

  private constructor(opened: OpenedWebSocket) {
    this.conn = new WsConnection(opened.socket, { role: 'client' });
    this.conn.attach(
      {
        onMessageStart: (binary) => (this.current = { binary, digest: new Digest(), text: [], frames: 0 }),
        onMessageData: (chunk) => {
          this.bytes += chunk.length;
          const m = this.current!;
          m.digest.update(chunk);
          if (!m.binary && m.digest.length <= 1024 * 1024) m.text.push(Buffer.from(chunk));
        },
        onMessageEnd: () => {
          const m = this.current!;
          this.current = undefined;
          const length = m.digest.length;
          this.messages.push({ binary: m.binary, length, sha256: m.digest.hex(), frames: m.frames, ...(m.binary || length > 1024 * 1024 ? {} : { text: Buffer.concat(m.text).toString('utf8') }) });
        },
        onPeerClose: (code, reason) => (this.peerClose = { code, reason }),
        onClosed: (code, reason) => (this.closed = { code, reason }),
      },
      opened.head,
    );
    // Count frames per message by watching the decoder's frame starts.
    const frameStart = this.conn.onDataFrameStart.bind(this.conn);
    this.conn.onDataFrameStart = (header) => {
      frameStart(header);
      if (this.current) this.current.frames++;
    };
  }

  static async open(url: string, options: OpenWebSocketOptions = {}): Promise<FramePeer> {
    return new FramePeer(await openWebSocket(url, { timeoutMs: WAIT_MS, ...options }));
  }

  get socket(): Duplex {
    return this.conn.socket;
  }

  /** Sends `payload` as one message split into frames of `frameSize`, waiting for drain between frames. */
  async sendChunked(payload: Buffer, frameSize: number, opcode: number = Opcode.Binary): Promise<void> {
    for (let off = 0, first = true; off < payload.length || first; off += frameSize, first = false) {
      const end = Math.min(payload.length, off + frameSize);
      const ok = this.conn.sendFrame(first ? opcode : Opcode.Continuation, payload.subarray(off, end), end >= payload.length);
      if (!ok && !this.conn.isFinished) await withTimeout(drainOrClose(this.socket), 10_000, 'drain');
      if (this.conn.isFinished || this.conn.outputClosed) return;
    }
  }

  async waitFor<T>(check: () => T, what: string, timeoutMs = WAIT_MS): Promise<T> {
    return waitFor(check, timeoutMs, what, 10);
  }
}

/** A control channel on `entity` whose accepted rendezvous sockets are FramePeers, pushed onto `rendezvous` in order. */
export interface FrameListener {
  relay: RelayAddress;
  entity: string;
  control: RawListener;
  rendezvous: Promise<FramePeer>[];
}

/** A sender and the listener's end of its rendezvous, both FramePeers. */
export interface FramePair {
  sender: FramePeer;
  listenerSide: FramePeer;
}

/** Opens a FrameListener on `entity`; several listeners may share one `rendezvous` list. */
export async function openFrameListener(relay: RelayAddress, entity: string, rendezvous: Promise<FramePeer>[] = []): Promise<FrameListener> {
  const control = await RawListener.open(relay, entity, { onAccept: (accept) => rendezvous.push(FramePeer.open(accept.address)) });
  return { relay, entity, control, rendezvous };
}

/** Opens a FramePeer sender on the listener's entity and returns it with the listener's end of its rendezvous. */
export async function openFramePair({ relay, entity, rendezvous }: FrameListener): Promise<FramePair> {
  const before = rendezvous.length;
  const sender = await FramePeer.open(hcUrl(relay, entity, 'connect'), { headers: { ServiceBusAuthorization: relay.token(entity) } });
  assert.equal(rendezvous.length, before + 1);
  return { sender, listenerSide: await rendezvous[before]! };
}

export function destroyFramePair(pair: FramePair): void {
  pair.sender.conn.destroy();
  pair.listenerSide.conn.destroy();
}

/** Opens a pair on `on` and runs `body`; both peers are destroyed afterwards (the listener stays open). */
export async function withFramePair(on: FrameListener, body: (pair: FramePair & { control: RawListener }) => Promise<void>): Promise<void> {
  const pair = await openFramePair(on);
  try {
    await body({ ...pair, control: on.control });
  } finally {
    destroyFramePair(pair);
  }
}

/** Like withFramePair, on a FrameListener of the pair's own that is closed afterwards too. */
export async function withFrameListenerPair(relay: RelayAddress, entity: string, body: (pair: FramePair & { control: RawListener }) => Promise<void>): Promise<void> {
  const listener = await openFrameListener(relay, entity);
  try {
    await withFramePair(listener, body);
  } finally {
    await listener.control.close();
  }
}
