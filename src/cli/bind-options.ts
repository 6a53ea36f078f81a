import type { Command } from 'commander';
import { ListenError } from '../forwarding/local-listen.js';
import { BindAddressError, parseBindAddress, type BindAddress } from '../tunnel/bind-address.js';
import { LocalTunnelServer, type LocalConnectionHandler, type LocalTunnelServerOptions } from '../tunnel/local-tunnel-server.js';
import type { Logger } from '../util/logger.js';
import { onShutdownSignal } from './common-options.js';
import { ExitCode, fail } from './errors.js';
import { durationFlag } from './relay-options.js';

/** aztunnel's `BindFlags` (`-b`, `--gateway`, `--tcp-keepalive`) and the drain on SIGTERM, for every local listener command. */
export interface BindFlags {
  bind: string;
  gateway?: boolean;
  tcpKeepalive: string;
  drainTimeout: string;
}

export function addBindOptions(command: Command, defaultBind: string): Command {
  return command
    .option('-b, --bind <address>', 'local address:port to listen on (port 0 picks a free one)', defaultBind)
    .option('--gateway', 'listen on 0.0.0.0 (every interface) with the --bind port')
    .option('--tcp-keepalive <duration>', 'TCP keep-alive interval on accepted connections (0 = off)', '30s')
    .option('--drain-timeout <duration>', 'on SIGTERM/SIGINT, how long open connections may run before they are closed', '30s');
}

export function bindFrom(flags: BindFlags): BindAddress {
  try {
    return parseBindAddress(flags.bind, flags.gateway === true);
  } catch (err) {
    if (err instanceof BindAddressError) fail(err.message);
    throw err;
  }
}

/** The bind flags, checked (one line and exit code 2 for a bad one); callers may check early, before slow work. */
export function checkBindFlags(flags: BindFlags): { bind: BindAddress; tcpKeepAliveMs: number; drainMs: number } {
  return {
    bind: bindFrom(flags),
    tcpKeepAliveMs: durationFlag(flags.tcpKeepalive, '--tcp-keepalive', true),
    drainMs: durationFlag(flags.drainTimeout, '--drain-timeout', true),
  };
}

/**
 * Listens on --bind and serves each connection with `handle`; SIGINT/SIGTERM drain the listener,
 * then `close` runs. A bind that fails runs `close` and ends the command with one line.
 */
export async function serveLocally(
  flags: BindFlags,
  log: Logger,
  handle: LocalConnectionHandler,
  close: () => void,
  more: Pick<LocalTunnelServerOptions, 'hyco' | 'lifecycle'> = {},
): Promise<LocalTunnelServer> {
  const { bind, tcpKeepAliveMs, drainMs } = checkBindFlags(flags);
  let server: LocalTunnelServer;
  try {
    server = await LocalTunnelServer.start({ bind, tcpKeepAliveMs, log, handle, ...more });
  } catch (err) {
    close();
    if (err instanceof ListenError) fail(`--bind: ${err.message}`, err.configProblem ? ExitCode.Usage : ExitCode.Failure);
    throw err;
  }
  onShutdownSignal(log, async () => {
    await server.drain(drainMs);
    close();
  });
  return server;
}
