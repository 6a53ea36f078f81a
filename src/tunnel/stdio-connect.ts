/**
 * `relay-sender connect <host:port>`: one tunnel on stdin/stdout, for `ssh -o ProxyCommand`.
 * Half-close is carried: end of stdin ends our direction, and output keeps flowing until the
 * listener closes its direction. Towards an aztunnel listener (no half-close) the end of stdin is
 * kept back and the tunnel runs until the listener ends it.
 */
import { Duplex, type Readable, type Writable } from 'node:stream';
import { EarlyBytes } from '../forwarding/early-bytes.js';
import { ConnectionLifecycle } from '../forwarding/lifecycle/connection-lifecycle.js';
import { pump, type PumpOptions, type PumpResult } from '../forwarding/pump.js';
import type { Logger } from '../util/logger.js';
import type { SenderEnd } from '../forwarding/sender-end.js';
import { openTunnel, TunnelError } from './open-tunnel.js';
import { connectionEndOf } from './tunnel-failures.js';

/**
 * Opens the tunnel (throws TunnelError), stdin's first bytes following the envelope, and carries
 * stdin/stdout through it until both directions end.
 */
export async function connectStdio(sender: SenderEnd, target: string, io: { input: Readable; output: Writable }, log: Logger): Promise<PumpResult> {
  const connection = new ConnectionLifecycle(log).open({ role: 'sender', fields: { hyco: sender.hyco, client: 'stdio', target }, abort: () => undefined });
  let tunnel;
  const early = new EarlyBytes(io.input);
  try {
    tunnel = await openTunnel(sender, target, undefined, early);
    connection.toRelay += early.release();
  } catch (err) {
    early.release();
    if (err instanceof TunnelError) connection.end({ end: connectionEndOf(err.failure), reason: err.message, quiet: true });
    throw err;
  }
  connection.update({ trackingId: tunnel.trackingId, bridgeId: tunnel.bridgeId, listenerId: tunnel.listenerId });
  connection.established();
  const result = await pumpStdio(tunnel.stream, io, { peerHalfClose: tunnel.peerHalfClose, meter: connection });
  connection.end({ end: result.outcome, ...(result.error ? { reason: result.error.message } : {}) });
  return result;
}

/** Carries `io` through an open stream, half-close included, until both directions end. */
export function pumpStdio(stream: Duplex, io: { input: Readable; output: Writable }, options: PumpOptions = {}): Promise<PumpResult> {
  return pump(new StdioDuplex(io.input, io.output), stream, options);
}

/**
 * stdin and stdout as one Duplex. Ending it does not close stdout (the process exits right after);
 * a write error on stdout (the reader went away) fails it.
 */
class StdioDuplex extends Duplex {
  constructor(
    private readonly input: Readable,
    private readonly output: Writable,
  ) {
    super({ allowHalfOpen: true });
    input.on('data', (chunk: Buffer) => {
      if (!this.push(chunk)) input.pause();
    });
    // The end may have been read already, with the first bytes that went ahead of the tunnel.
    if (input.readableEnded) this.push(null);
    else input.once('end', () => this.push(null));
    input.once('error', (err: Error) => this.destroy(err));
    output.on('error', (err: Error) => this.destroy(err));
  }

  override _read(): void {
    this.input.resume();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.output.write(chunk, (err) => callback(err));
  }

  override _final(callback: (error?: Error | null) => void): void {
    callback();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.input.pause();
    callback(error);
  }
}
