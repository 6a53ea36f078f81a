import type { Server, Socket } from 'node:net';
import type { HybridConnectionStream } from '../../client/index.js';
import { formatTarget } from '../../forwarding/dial.js';
import { listenTcp, listenUnix } from '../../forwarding/local-listen.js';
import { pump } from '../../forwarding/pump.js';
import { PreambleMode } from '../../protocol/azbridge-preamble.js';
import type { TcpLocalBinding, UnixLocalBinding } from '../config/index.js';
import { logConnectionEnd, logSetupFailure, pumpSummary, type ConnectionLabel } from '../connection-log.js';
import { isMissingAddress, listenAddresses } from './listen-addresses.js';
import type { LocalContext, LocalListener } from './local-context.js';
import { BridgeOpenError, openBridgeStream, retryMessage } from './open-bridge-stream.js';

/**
 * -L for TCP ports and Unix sockets: every accepted connection gets its own relayed connection,
 * opened with the binding's port name, and bytes are pumped both ways with half-close.
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

  async stop(): Promise<void> {
    await Promise.all(this.servers.splice(0).map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
  }

  private async handle(socket: Socket): Promise<void> {
    const startedAt = Date.now();
    const { binding, ctx } = this;
    const label: ConnectionLabel = { relay: ctx.relayName, port: binding.portName, client: socket.remoteAddress ? formatTarget(socket.remoteAddress, socket.remotePort ?? 0) : 'unix' };
    socket.on('error', () => undefined);
    const abort = new AbortController();
    let stream: HybridConnectionStream | undefined;
    const release = ctx.tracker.add(() => {
      abort.abort();
      socket.destroy();
      stream?.destroy();
    });
    const onClientGone = () => abort.abort();
    socket.once('close', onClientGone);
    try {
      stream = await openBridgeStream(ctx.connectorFor(binding.noAuthentication), { mode: PreambleMode.Stream, portName: binding.portName }, {
        replyTimeoutMs: ctx.replyTimeoutMs,
        signal: abort.signal,
        onRetry: (retry, reason, why) => ctx.log.info({ ...label, retry, reason }, retryMessage(why)),
      });
    } catch (err) {
      const failure = err instanceof BridgeOpenError ? err.failure : 'relay-unavailable';
      logSetupFailure(ctx.log, label, socket.destroyed ? 'client-gone' : failure, (err as Error).message, startedAt);
      socket.destroy();
      release();
      return;
    }
    socket.off('close', onClientGone);
    label.conn = stream.trackingId;
    if (socket.destroyed) {
      logSetupFailure(ctx.log, label, 'client-gone', 'the client closed before the relay connection was ready', startedAt);
      stream.end();
      stream.resume();
      release();
      return;
    }
    ctx.log.debug({ relay: ctx.relayName, port: binding.portName, client: label.client, conn: stream.trackingId, setupMs: Date.now() - startedAt }, 'connection open');
    const result = await pump(socket, stream);
    release();
    logConnectionEnd(ctx.log, label, pumpSummary(result));
  }
}
