/**
 * `hybridge relay-sender port-forward` (client site) + `relay-listener` (service site), aztunnel-style,
 * through a fresh relay.
 */
import { HOST } from '../lib/net.js';
import { awaitMuxSessions, senderLogArgs, type MuxReadiness } from './mux-ready.js';
import { preconnectArgs, preconnectLabel, preconnectSuffix } from './preconnect.js';
import { assemble, hybridgeEnv, nodeArgs, type RelayProcess } from './relay.js';
import { missingCommands, type BenchContext, type PathDef, type Transport } from './types.js';

function relayArgs(ctx: BenchContext, relay: RelayProcess, logArgs = ['--log-level', 'warn']): string[] {
  return ['--relay', relay.wsBase, '--hyco', ctx.hyco, ...logArgs, '--drain-timeout', '1s'];
}

function env(ctx: BenchContext, relay: RelayProcess): NodeJS.ProcessEnv {
  return hybridgeEnv(ctx, { ...relay.clientEnv, AZTUNNEL_KEY_NAME: ctx.relayKeyName, AZTUNNEL_KEY: ctx.relayKey });
}

export function tunnelTcpPath(transport: Transport, prewarm = 0, mux = 0, preconnect?: number, readiness?: MuxReadiness): PathDef {
  const extra = preconnectArgs(preconnect);
  return {
    id: `tunnel-${transport}${prewarm ? '-prewarm' : ''}${mux ? '-mux' : ''}${preconnectSuffix(preconnect)}`,
    label: `relay-sender/relay-listener (${transport === 'tls' ? 'TLS' : 'WS'}${prewarm ? `, --prewarm ${prewarm}` : ''}${mux ? `, --mux ${mux}` : ''}${preconnectLabel(preconnect)})`,
    kind: 'hybridge',
    unavailable: (ctx) => missingCommands(ctx, 'server', 'relay-listener', 'relay-sender'),
    transport,
    prewarm,
    start: (ctx, target) =>
      assemble(ctx, transport, async (relay, procs) => {
        const target_ = `${target.host}:${target.port}`;
        const listener = ctx.sites.start('service', 'relay-listener', process.execPath, nodeArgs(ctx, 'relay-listener', ['relay-listener', ...relayArgs(ctx, relay), '--allow', target_, ...extra.listener]), { env: env(ctx, relay) });
        procs.push(listener);
        const senderArgs = ['relay-sender', 'port-forward', target_, '-b', `${HOST}:0`, ...relayArgs(ctx, relay, senderLogArgs(mux, readiness, ['--log-level', 'warn'])), ...(prewarm ? ['--prewarm', String(prewarm)] : []), ...(mux ? ['--mux', String(mux)] : []), ...extra.sender];
        const sender = ctx.sites.start('client', 'relay-sender', process.execPath, nodeArgs(ctx, 'relay-sender', senderArgs), { env: env(ctx, relay) });
        procs.push(sender);
        const m = await sender.waitFor(/listening on 127\.0\.0\.1:(\d+)/, 15_000);
        await awaitMuxSessions(sender, mux, readiness);
        return {
          endpoint: { host: HOST, port: Number(m[1]) },
          watched: [
            { slot: 'sender', role: 'relay-sender', pid: sender.pid },
            { slot: 'listener', role: 'relay-listener', pid: listener.pid },
          ],
        };
      }),
  };
}
