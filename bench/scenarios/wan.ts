/**
 * What the WAN scenarios (w1-w3) share: a network-fault lab with the three sites in separate
 * network namespaces (client <-> relay <-> service, the relay node routing between the others), a
 * delay on each link, the path RTT measured by TCP ping-pong before any path runs, and a TLS
 * certificate for the relay's lab address. Paths are the same definitions as on loopback; they
 * run in the lab through its Sites (bench/lib/lab-sites.ts).
 */
import { writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { Lab, labUnavailable, tcpPingPong, threeSites, type RoundTrips } from '../../lab/index.js';
import { generateSelfSignedCertificate } from '../../src/relay/self-signed.js';
import { labSites } from '../lib/lab-sites.js';
import { progress } from '../lib/progress.js';
import { round } from '../lib/stats.js';
import type { Figure } from '../report/model.js';
import type { PreparedScenario, Scenario, ScenarioRun } from './types.js';

export interface WanSession {
  lab: Lab;
  /** The path RTT (client to service) measured at the start of the scenario. */
  rtt: RoundTrips;
  /** `ms` as a multiple of the measured path RTT (its median). */
  inRtts(ms: number): number;
  /** Sets the loss of both links, both directions (the delays stay). */
  setLoss(percent: number): Promise<void>;
}

export type WanScenarioDef = Omit<Scenario, 'unavailable' | 'prepare' | 'run'> & {
  run(run: ScenarioRun, wan: WanSession): Promise<Figure[]>;
};

/** The row that carries the measured path RTT in each WAN scenario's table. */
export const LAB_ROW = 'lab';

export function wanScenario(def: WanScenarioDef): Scenario {
  let session: WanSession | undefined;
  return {
    ...def,
    unavailable: () => labUnavailable(),
    prepare: async (ctx, profile): Promise<PreparedScenario> => {
      const { delayMs, pings } = profile.wan;
      const lab = await Lab.create(threeSites({ clientRelay: { delayMs }, relayService: { delayMs } }));
      try {
        const rtt = await tcpPingPong(lab.node('client'), lab.node('service'), { count: pings });
        progress(`   lab ${lab.id}: ${delayMs} ms one way per link; path RTT by TCP ping-pong p50 ${rtt.p50.toFixed(1)} ms (min ${rtt.min.toFixed(1)}, max ${rtt.max.toFixed(1)}, ${rtt.count} round trips)`);
        const relayAddress = lab.node('relay').address;
        const cert = generateSelfSignedCertificate(['localhost', '127.0.0.1', relayAddress]);
        const tlsCertFile = join(ctx.dir, `${lab.id}-cert.pem`);
        const tlsKeyFile = join(ctx.dir, `${lab.id}-key.pem`);
        writeFileSync(tlsCertFile, cert.cert);
        writeFileSync(tlsKeyFile, cert.key, { mode: 0o600 });
        const links = lab.links;
        session = {
          lab,
          rtt,
          inRtts: (ms) => ms / rtt.p50,
          setLoss: async (lossPercent) => {
            await Promise.all(links.map((l) => l.set({ lossPercent })));
          },
        };
        const rttFigure: Figure = {
          scenario: def.id,
          path: LAB_ROW,
          metric: 'rtt',
          label: 'path RTT (TCP ping-pong, p50)',
          value: round(rtt.p50, 2),
          unit: 'ms',
          better: 'lower',
          errors: 0,
          detail: { configuredMs: 4 * delayMs, minMs: round(rtt.min, 2), maxMs: round(rtt.max, 2), samples: rtt.count },
        };
        return {
          ctx: { ...ctx, sites: labSites(lab, ctx.toolsDir), tlsCertFile, tlsKeyFile },
          paths: [{ id: LAB_ROW, label: `lab path client -> relay -> service (${delayMs} ms one way per link)`, kind: 'baseline' }],
          figures: [rttFigure],
          notes: [],
          // A prewarm pool refills with cold rendezvous of ~4-5 RTT each.
          prewarmSettleMs: Math.max(1000, Math.round(10 * rtt.p50)),
          close: async () => {
            session = undefined;
            await lab.destroy();
          },
        };
      } catch (err) {
        await lab.destroy();
        throw err;
      }
    },
    run: async (run) => {
      if (!session) throw new Error(`${def.id}: the lab is not prepared`);
      // Other programs share the cores with the lab's delay program: the load goes next to every figure.
      const start = loadavg()[0]!;
      const figures = await def.run(run, session);
      const load1 = [round(start, 2), round(loadavg()[0]!, 2)];
      for (const f of figures) f.detail = { ...f.detail, load1 };
      return figures;
    },
  };
}

/** Figures in milliseconds, kept in a WAN figure's detail next to its value in RTTs. */
export function msDetail(wan: WanSession, values: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = { rttMs: round(wan.rtt.p50, 2) };
  for (const [k, v] of Object.entries(values)) out[k] = round(v, 1);
  return out;
}
