/**
 * Figures for docs/deployment.md: after a cut of the client's or the listener's link, how soon new
 * tunnels are normal again (fault-kit.ts's normalAgainAfter), with default settings. Not a test:
 *   node dist/test/lab/measure-recovery.js [--cuts 5000,20000] [--sides client,listener] [--repeat 1]
 * Needs root (the network-fault lab). Each run gets a fresh lab, relay, listener and sender.
 */
import { parseArgs } from 'node:util';
import { delay } from '../helpers/async.js';
import { normalAgainAfter, startFaultSetup, type Answer } from './fault-kit.js';

const { values } = parseArgs({ options: { cuts: { type: 'string', default: '5000,20000' }, sides: { type: 'string', default: 'client,listener' }, repeat: { type: 'string', default: '1' } } });
const cuts = values.cuts.split(',').map(Number);
const sides = values.sides.split(',') as ('client' | 'listener')[];

for (let r = 0; r < Number(values.repeat); r++) {
  for (const cutMs of cuts) {
    for (const side of sides) {
      const s = await startFaultSetup();
      try {
        const warm: Answer[] = [];
        for (let i = 0; i < 8; i++) warm.push(await s.driver.send({ op: 'probe', timeoutMs: 10_000 }));
        const median = warm.map((p) => p.ms!).sort((a, b) => a - b)[4]!;
        const link = side === 'client' ? s.lab.link('client', 'relay') : s.lab.link('relay', 'service');
        const cutting = link.cutFor(cutMs);
        await delay(1500);
        const everyMs = cutMs > 10_000 ? 200 : 100;
        const probing = s.driver.probes(Math.round((cutMs - 1500 + 4000) / everyMs), everyMs, cutMs + 30_000);
        await cutting;
        const restoredAt = Date.now();
        const probes = await probing;
        const after = probes.filter((p) => p.startedAt! >= restoredAt);
        const recovery = normalAgainAfter(probes, restoredAt, median + 500);
        const firstDone = Math.min(...probes.filter((p) => p.ok).map((p) => p.startedAt! + p.ms! - restoredAt));
        process.stdout.write(
          `${JSON.stringify({ side, cutMs, baselineMedianMs: median, normalAgainMs: recovery ?? null, firstCompletionAfterReturnMs: firstDone, afterReturn: after.slice(0, 8).map((p) => (p.ok ? p.ms : 'failed')) })}\n`,
        );
      } finally {
        await s.stop();
      }
    }
  }
}
