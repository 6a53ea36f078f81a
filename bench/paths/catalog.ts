/** The paths each kind of scenario measures, baselines first. */
import { directPath, nodeChainPath, socatTcpPath, socatUdpPath } from './baselines.js';
import { bridgeHttpPath, bridgeTcpPath, bridgeUdpPath } from './bridge.js';
import { bridgeClusterPath } from './cluster.js';
import { hycoWsPath } from './hyco-ws.js';
import type { MuxReadiness } from './mux-ready.js';
import { sshPath } from './ssh.js';
import { tunnelTcpPath } from './tunnel.js';
import type { PathDef, Transport } from './types.js';

export interface TcpPathChoice {
  tls: boolean;
  socat?: boolean;
  ssh?: boolean;
  /**
   * The bare three-process Node chains (the floors): plain, and with `tls` also the TLS one; on by
   * default when socat runs. 'tls': only the TLS chain (when `tls`).
   */
  nodeChain?: boolean | 'tls';
  hycoWs?: boolean | 'ws';
  /** Also the hybridge paths with --prewarm N. */
  prewarm?: number;
  /** With `prewarm`: the tunnel too (default), or only the bridge. */
  prewarmTunnel?: boolean;
  /** Also the hybridge paths with --mux N (multiplexed sessions). */
  mux?: number;
  /** Also bridge -L/-T across two relay cluster nodes (plain WebSocket only). */
  cluster?: boolean;
}

export function tcpPaths(choice: TcpPathChoice): PathDef[] {
  const transports: Transport[] = choice.tls ? ['ws', 'tls'] : ['ws'];
  const paths: PathDef[] = [directPath];
  if (choice.socat !== false) paths.push(socatTcpPath);
  if (choice.ssh !== false) paths.push(sshPath);
  const floors = choice.nodeChain ?? choice.socat !== false;
  if (floors === true) paths.push(nodeChainPath('ws'));
  if (floors !== false && choice.tls) paths.push(nodeChainPath('tls'));
  for (const t of transports) {
    paths.push(bridgeTcpPath(t));
    if (choice.prewarm) paths.push(bridgeTcpPath(t, choice.prewarm));
    if (choice.cluster && t === 'ws') paths.push(bridgeClusterPath(t));
    paths.push(tunnelTcpPath(t));
    if (choice.prewarm && choice.prewarmTunnel !== false) paths.push(tunnelTcpPath(t, choice.prewarm));
    if (choice.mux) paths.push(bridgeTcpPath(t, 0, choice.mux), tunnelTcpPath(t, 0, choice.mux));
    if (choice.hycoWs === true || (choice.hycoWs === 'ws' && t === 'ws')) paths.push(hycoWsPath(t));
  }
  return paths;
}

/**
 * The hybridge TCP paths the WAN scenarios measure, each cold, prewarmed and multiplexed: adding a
 * path to the WAN scenarios is one more entry here.
 */
export const WAN_HYBRIDGE_PATHS: ((transport: Transport, prewarm?: number, mux?: number, preconnect?: number, readiness?: MuxReadiness) => PathDef)[] = [bridgeTcpPath, tunnelTcpPath];

export interface WanPathChoice {
  /** Also each hybridge path with --prewarm N. */
  prewarm?: number;
  /** Also each hybridge path with --mux N, measured once all N sessions are open. */
  mux?: number;
}

/**
 * The WAN scenarios' paths: direct TCP (routed through the relay site), socat and ssh -L in the
 * relay's place, then every WAN_HYBRIDGE_PATHS entry per transport: cold without pre-connected
 * sockets (--preconnect 0), cold as by default (pre-connected sockets, first bytes behind the
 * preamble/envelope), prewarmed (with `prewarm`) and multiplexed (with `mux`).
 */
export function wanPaths(tls: boolean, choice: WanPathChoice = {}): PathDef[] {
  const paths: PathDef[] = [directPath, socatTcpPath, sshPath];
  for (const make of WAN_HYBRIDGE_PATHS) {
    for (const t of tls ? (['ws', 'tls'] as const) : (['ws'] as const)) {
      // Cold set-up as it was (no pre-connected sockets), then as it is by default.
      paths.push(make(t, 0, 0, 0), make(t));
      if (choice.prewarm) paths.push(make(t, choice.prewarm));
      if (choice.mux) paths.push(make(t, 0, choice.mux, undefined, { awaitSessions: true }));
    }
  }
  return paths;
}

export function httpPaths(tls: boolean): PathDef[] {
  return [directPath, bridgeHttpPath('ws'), ...(tls ? [bridgeHttpPath('tls')] : [])];
}

export function udpPaths(tls: boolean, socat = true): PathDef[] {
  return [directPath, ...(socat ? [socatUdpPath] : []), bridgeUdpPath('ws'), bridgeUdpPath('ws', 2), ...(tls ? [bridgeUdpPath('tls')] : [])];
}
