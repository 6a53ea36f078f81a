import type { Server, Socket } from 'node:net';
import type { HybridConnectionStream } from '../../client/index.js';
import { formatTarget } from '../../forwarding/dial.js';
import { EarlyBytes } from '../../forwarding/early-bytes.js';
import { listenTcp, listenUnix } from '../../forwarding/local-listen.js';
import { pumpTracked } from '../../forwarding/pump-tracked.js';
import { PreambleMode } from '../../protocol/azbridge-preamble.js';
import type { TcpLocalBinding, UnixLocalBinding } from '../config/index.js';
import { isMissingAddress, listenAddresses } from './listen-addresses.js';
import type { LocalContext, LocalListener } from './local-context.js';
import { BridgeOpenError, openBridgeStream, retryMessage } from './open-bridge-stream.js';

/**
 * -L for TCP ports and Unix sockets: every accepted connection gets its own relayed connection,
 * opened with the binding's port name, and bytes are pumped both ways with half-close. The client's
 * first bytes follow the preamble without waiting for its reply (early-bytes.ts).
 */
export class StreamForwarder implements LocalListener {
  private readonly servers: Server[] = [];
  readonly addresses: string[] = [];

  constructor(
    private readonly binding: TcpLocalBinding | UnixLocalBinding,
    private readonly ctx: LocalContext,
  ) {}

  async start(): Promise<void> {
    const onConnection = (socket: Socket) => void this.handle(socket);
    if (this.binding.kind === 'unix') {
      this.servers.push(await listenUnix(this.binding.path, onConnection));
      this.addresses.push(this.binding.path);
      return;
    }
    for (const address of await listenAddresses(this.binding.bindAddress, this.ctx.gatewayPorts, this.ctx.addressFamily)) {
      try {
        this.servers.push(await listenTcp(address.host, this.binding.port, onConnection));
        this.addresses.push(formatTarget(address.host ?? '*', this.binding.port));
      } catch (err) {
        if (address.optional && isMissingAddress(err)) continue;
        await this.stop();
        throw err;
      }
    }
  }

  /**
   * Stops listening. Open connections are not waited for: they are the lifecycle's to drain (the
   * close callback would wait for every one of them, whatever the drain timeout).
   */
  async stop(): Promise<void> {
    for (const server of this.servers.splice(0)) server.close();
    // The listening sockets are released on the next turn of the event loop.
    await new Promise((resolve) => setImmediate(resolve));
  }

  private async handle(socket: Socket): Promise<void> {
    const { binding, ctx } = this;
    socket.on('error', () => undefined);
    const abort = new AbortController();
    let stream: HybridConnectionStream | undefined;
    const connection = ctx.lifecycle.open({
      role: 'sender',
      fields: { hyco: ctx.relayName, port: binding.portName, client: socket.remoteAddress ? formatTarget(socket.remoteAddress, socket.remotePort ?? 0) : 'unix' },
      abort: () => {
        abort.abort();
        socket.destroy();
        stream?.destroy();
      },
    });
    const onClientGone = () => abort.abort();
    socket.once('close', onClientGone);
    const dialStarted = Date.now();
    const early = new EarlyBytes(socket);
    try {
      stream = await openBridgeStream(ctx.senderFor(binding.noAuthentication), { mode: PreambleMode.Stream, portName: binding.portName }, {
        replyTimeoutMs: ctx.replyTimeoutMs,
        signal: abort.signal,
        early,
        onRetry: (retry, reason, why) => connection.log.info({ retry, reason }, retryMessage(why)),
      });
    } catch (err) {
      early.release();
      const failure = err instanceof BridgeOpenError ? err.failure : 'relay-unavailable';
      if (err instanceof BridgeOpenError && err.trackingId) connection.update({ trackingId: err.trackingId });
      connection.dialed(Date.now() - dialStarted, failure);
      connection.end({ end: socket.destroyed ? 'client-gone' : failure, reason: (err as Error).message });
      socket.destroy();
      return;
    }
    connection.dialed(Date.now() - dialStarted, undefined);
    // What went ahead behind the preamble is counted like the bytes the pump moves.
    connection.toRelay += early.release();
    socket.off('close', onClientGone);
    connection.update({ trackingId: stream.trackingId });
    if (socket.destroyed) {
      connection.end({ end: 'client-gone', reason: 'the client closed before the relay connection was ready' });
      stream.end();
      stream.resume();
      return;
    }
    connection.established();
    await pumpTracked(socket, stream, connection);
  }
}
