/**
 * An end that has carried thousands of connections holds no more than one that has carried a few:
 * after a warm-up of 1,500 connections (JIT code, pools and caches sized), four rounds of 500 more
 * leave the live heap of both ends (after full garbage collections, test/helpers/live-heap.ts)
 * within 1 MiB of where the warm-up left it, for the bridge (-L/-T) and the tunnel (relay-sender
 * port-forward/relay-listener) ends, with and without --mux. A leak of 1 KiB per connection, put
 * into a scratch copy of the build, fails it in the second round; one of about 400 bytes passed
 * (+0.7-0.9 MiB). Measured over 15 rounds (7,500 connections through the bridge, 2026-12-03): both
 * ends grow by 0.6-0.7 MiB over the first five or six rounds and then stay level; after the third
 * round, by at most 0.42 MiB.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { endBridgeSuite, exchange, startBridge, startEchoTarget, type TcpTarget } from '../bridge/bridge-kit.js';
import { freePort } from '../helpers/async.js';
import { patternBytes, sha256 } from '../helpers/data.js';
import { liveHeapBytes, liveHeapEnv } from '../helpers/live-heap.js';
import type { RunningProcess } from '../helpers/processes.js';
import { startRelay, type TestRelay } from '../helpers/relay.js';
import { startListener, startPortForward } from '../tunnel/tunnel-kit.js';

const ROUND = 500;
const WARM_UP_ROUNDS = 3;
const ROUNDS_AFTER_WARM_UP = 4;
const AT_ONCE = 16;
const SLACK = 1024 * 1024;
const MiB = (bytes: number): string => (bytes / 1024 / 1024).toFixed(2);

interface Ends {
  sender: RunningProcess;
  listener: RunningProcess;
  /** Where clients connect. */
  port: number;
}

type StartEnds = (relay: TestRelay, targetPort: number, mux: string[]) => Promise<Ends>;

const PAIRS: [string, StartEnds][] = [
  [
    'bridge -L / -T',
    async (relay, targetPort, mux) => {
      const listener = await startBridge(['-x', relay.connectionString(), '-T', `churn-bridge:${targetPort}`], { env: liveHeapEnv() });
      const port = await freePort();
      const sender = await startBridge(['-x', relay.connectionString(), '-L', `${port}:churn-bridge`, ...mux], { env: liveHeapEnv() });
      return { sender, listener, port };
    },
  ],
  [
    'relay-sender port-forward / relay-listener',
    async (relay, targetPort, mux) => {
      const target = `127.0.0.1:${targetPort}`;
      const listener = await startListener(relay, 'churn-tunnel', ['--allow', target], liveHeapEnv());
      const forward = await startPortForward(relay, 'churn-tunnel', target, mux, liveHeapEnv());
      return { sender: forward.proc, listener, port: forward.port };
    },
  ],
];

async function round(port: number, payload: Buffer): Promise<void> {
  let next = 0;
  const digest = sha256(payload);
  await Promise.all(
    Array.from({ length: AT_ONCE }, async () => {
      while (next++ < ROUND) {
        const back = await exchange({ port }, payload);
        assert.equal(back.length, payload.length);
        assert.equal(back.sha256, digest);
      }
    }),
  );
}

describe('the ends under connection churn (processes)', { timeout: 300_000 }, () => {
  let relay: TestRelay | undefined;
  let echo: TcpTarget | undefined;
  after(() => endBridgeSuite(relay));

  for (const [name, start] of PAIRS) {
    for (const mux of [[], ['--mux', '2']]) {
      it(`${name}${mux.length ? ' over --mux' : ''}: ${ROUNDS_AFTER_WARM_UP * ROUND} connections after a warm-up of ${WARM_UP_ROUNDS * ROUND} leave both ends' live heap within 1 MiB`, async (t) => {
        relay ??= await startRelay({ hybridConnections: ['churn-bridge', 'churn-tunnel'] });
        echo ??= await startEchoTarget();
        const ends = await start(relay, echo.port, mux);
        try {
          const payload = patternBytes(4096, 9);
          for (let i = 0; i < WARM_UP_ROUNDS; i++) await round(ends.port, payload);
          const warm = { sender: await liveHeapBytes(ends.sender), listener: await liveHeapBytes(ends.listener) };
          const readings: string[] = [];
          for (let i = 0; i < ROUNDS_AFTER_WARM_UP; i++) {
            await round(ends.port, payload);
            const now = { sender: await liveHeapBytes(ends.sender), listener: await liveHeapBytes(ends.listener) };
            readings.push(`${MiB(now.sender)} / ${MiB(now.listener)}`);
            assert.ok(now.sender <= warm.sender + SLACK, `the sender end holds ${MiB(now.sender)} MiB after round ${i + 1} (${MiB(warm.sender)} after the warm-up)`);
            assert.ok(now.listener <= warm.listener + SLACK, `the listener end holds ${MiB(now.listener)} MiB after round ${i + 1} (${MiB(warm.listener)} after the warm-up)`);
          }
          t.diagnostic(`live heap (sender / listener end, MiB) after the warm-up ${MiB(warm.sender)} / ${MiB(warm.listener)}, then ${readings.join(', ')}`);
        } finally {
          await ends.sender.stop();
          await ends.listener.stop();
        }
      });
    }
  }
});
