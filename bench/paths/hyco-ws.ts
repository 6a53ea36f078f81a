/** The hyco-ws baseline: bench/tools/hyco-ws-forwarder.ts ends (unmodified hyco-ws@1.0.5) through a fresh relay. */
import { join } from 'node:path';
import { assemble } from './relay.js';
import { missingCommands, type PathDef, type Transport } from './types.js';

export function hycoWsPath(transport: Transport): PathDef {
  return {
    id: `hyco-ws-${transport}`,
    label: `hyco-ws library (${transport === 'tls' ? 'TLS' : 'WS'})`,
    kind: 'library',
    unavailable: (ctx) => missingCommands(ctx, 'server'),
    transport,
    start: (ctx, target) =>
      assemble(ctx, transport, async (relay, procs) => {
        const tool = join(ctx.toolsDir, 'hyco-ws-forwarder.js');
        const common = { relayBase: relay.wsBase, hyco: ctx.hyco, keyName: ctx.relayKeyName, key: ctx.relayKey };
        const env = { PATH: process.env.PATH, ...relay.clientEnv };
        const listener = ctx.sites.start('service', 'hyco-ws listener', process.execPath, [tool, JSON.stringify({ ...common, role: 'listener', target })], { env });
        procs.push(listener);
        await listener.waitFor(/"ready":true/, 15_000);
        const sender = ctx.sites.start('client', 'hyco-ws sender', process.execPath, [tool, JSON.stringify({ ...common, role: 'sender' })], { env });
        procs.push(sender);
        const m = await sender.waitFor(/"port":(\d+)/, 15_000);
        return {
          endpoint: { host: '127.0.0.1', port: Number(m[1]) },
          watched: [
            { slot: 'sender', role: 'hyco-ws sender', pid: sender.pid },
            { slot: 'listener', role: 'hyco-ws listener', pid: listener.pid },
          ],
        };
      }),
  };
}
