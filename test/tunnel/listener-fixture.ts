/**
 * An in-process relay-listener (TunnelListener + the aztunnel handler) on a test relay, and a raw
 * sender that speaks the envelope by hand, as an aztunnel sender does.
 */
import { rejectAzbridgeConnection } from '../../src/forwarding/peer-refusals.js';
import { HybridConnectionClient, type HybridConnectionStream } from '../../src/client/index.js';
import type { ProtocolHandler } from '../../src/forwarding/listener-end.js';
import { Allowlist } from '../../src/tunnel/allowlist.js';
import { ConnectionSlots } from '../../src/tunnel/connection-slots.js';
import { createAztunnelHandler, type AztunnelHandlerOptions } from '../../src/tunnel/serve-aztunnel.js';
import { TunnelListener } from '../../src/tunnel/tunnel-listener.js';
import { silentLogger } from '../../src/util/logger.js';
import { waitFor } from '../helpers/async.js';
import type { TestRelay } from '../helpers/relay.js';

export const LISTENER_ID = 'LISTENERID234567';

export interface InProcessListener {
  listener: TunnelListener;
  /** Replaces the aztunnel handler (for tables of allowlists). */
  use(options: Partial<AztunnelHandlerOptions>): void;
  stop(): Promise<void>;
}

export function handlerWith(options: Partial<AztunnelHandlerOptions>): ProtocolHandler {
  return createAztunnelHandler({
    allowlist: Allowlist.parse([]),
    connectTimeoutMs: 3000,
    tcpKeepAliveMs: 0,
    listenerId: LISTENER_ID,
    ...options,
  });
}

export async function startInProcessListener(relay: TestRelay, hyco: string, options: Partial<AztunnelHandlerOptions> & { firstMessageTimeoutMs?: number } = {}): Promise<InProcessListener> {
  const slots = options.slots ?? new ConnectionSlots(options.maxConnections ?? 0);
  let current = handlerWith({ ...options, slots });
  const listener = new TunnelListener({
    connection: { connectionString: relay.connectionString(hyco) },
    listenerId: LISTENER_ID,
    aztunnel: (stream, first, connection) => current(stream, first, connection),
    azbridge: (stream, first) => rejectAzbridgeConnection(stream, first, 'tunnels only here'),
    slots,
    firstMessageTimeoutMs: options.firstMessageTimeoutMs ?? 5000,
    log: silentLogger(),
    reconnectDelaysMs: [0, 100, 250],
  });
  listener.start();
  await waitFor(() => listener.isOnline, 5000, 'listener online');
  return {
    listener,
    use: (next) => (current = handlerWith({ ...options, slots, ...next })),
    stop: () => listener.drain(0),
  };
}

export function rawClient(relay: TestRelay, hyco: string): HybridConnectionClient {
  return new HybridConnectionClient({ connectionString: relay.connectionString(hyco) });
}

/** Opens a relayed connection, sends `firstMessage` as one text frame, and returns the first answer. */
export async function askListener(client: HybridConnectionClient, firstMessage: string | Buffer): Promise<{ stream: HybridConnectionStream; binary: boolean; text: string; data: Buffer }> {
  const stream = await client.createConnection({ retryBudgetMs: 5000 });
  stream.on('error', () => undefined);
  await stream.sendMessage(firstMessage);
  const answer = await stream.readMessage(10_000);
  if (!answer) throw new Error('the listener closed without answering');
  return { stream, binary: answer.binary, text: answer.data.toString('utf8'), data: answer.data };
}

/** The exact envelope an aztunnel sender writes (with `halfClose`, a hybridge sender's). */
export function aztunnelEnvelope(target: string, bridgeId = 'BRIDGEID23456789', halfClose = false): string {
  return `{"version":1,"target":${JSON.stringify(target)},"bridge_id":"${bridgeId}"${halfClose ? ',"half_close":true' : ''}}`;
}

/** hybridge's listener adds half_close (aztunnel senders ignore it). */
export const ACCEPTED = `{"version":1,"ok":true,"listener_id":"${LISTENER_ID}","half_close":true}`;
export const NOT_ALLOWED = `{"version":1,"ok":false,"error":"target not allowed","listener_id":"${LISTENER_ID}"}`;
export function connectionFailed(code: string): string {
  return `{"version":1,"ok":false,"error":"connection failed","code":"${code}","listener_id":"${LISTENER_ID}"}`;
}
export const AT_CAPACITY = `{"version":1,"ok":false,"error":"listener at capacity","code":"max_connections","listener_id":"${LISTENER_ID}"}`;
