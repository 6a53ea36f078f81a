/**
 * A bridge pair that has carried thousands of connections holds no more than one that has carried
 * a few: after a warm-up of 1,500 connections (JIT code, pools and caches sized), four rounds of
 * 500 more leave the live heap of bridge -L and bridge -T (after full garbage collections,
 * test/helpers/live-heap.ts) within 1 MiB of where the warm-up left it, with and without --mux. A
 * leak of 1 KiB per connection, put into a scratch copy of the build, fails it in the second
 * round; one of about 400 bytes passed (+0.7-0.9 MiB). Measured over 15 rounds (7,500 connections,
 * 2026-12-03): both ends grow by 0.6-0.7 MiB over the first five or six rounds and then stay
 * level; after the third round, by at most 0.42 MiB.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { endBridgeSuite, exchange, startBridge, startEchoTarget, type TcpTarget } from './bridge-kit.js';
import { freePort } from '../helpers/async.js';
import { patternBytes, sha256 } from '../helpers/data.js';
import { liveHeapBytes, liveHeapEnv } from '../helpers/live-heap.js';
import { startRelay, type TestRelay } from '../helpers/relay.js';

const ROUND = 500;
const WARM_UP_ROUNDS = 3;
const ROUNDS_AFTER_WARM_UP = 4;
const AT_ONCE = 16;
const SLACK = 1024 * 1024;
const MiB = (bytes: number): string => (bytes / 1024 / 1024).toFixed(2);

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

describe('the ends under connection churn (processes)', { timeout: 240_000 }, () => {
  let relay: TestRelay | undefined;
  let echo: TcpTarget;
  after(() => endBridgeSuite(relay));

  for (const mux of [false, true]) {
    it(`${ROUNDS_AFTER_WARM_UP * ROUND} connections after a warm-up of ${WARM_UP_ROUNDS * ROUND} leave both ends' live heap within 1 MiB${mux ? ', over --mux' : ''}`, async (t) => {
      relay ??= await startRelay({ hybridConnections: ['churn'] });
      echo ??= await startEchoTarget();
      const target = await startBridge(['-x', relay.connectionString(), '-T', `churn:${echo.port}`], { env: liveHeapEnv() });
      const port = await freePort();
      const sender = await startBridge(['-x', relay.connectionString(), '-L', `${port}:churn`, ...(mux ? ['--mux', '2'] : [])], { env: liveHeapEnv() });
      try {
        const payload = patternBytes(4096, 9);
        for (let i = 0; i < WARM_UP_ROUNDS; i++) await round(port, payload);
        const warm = { sender: await liveHeapBytes(sender), target: await liveHeapBytes(target) };
        const readings: string[] = [];
        for (let i = 0; i < ROUNDS_AFTER_WARM_UP; i++) {
          await round(port, payload);
          const now = { sender: await liveHeapBytes(sender), target: await liveHeapBytes(target) };
          readings.push(`-L ${MiB(now.sender)} / -T ${MiB(now.target)}`);
          assert.ok(now.sender <= warm.sender + SLACK, `bridge -L holds ${MiB(now.sender)} MiB after round ${i + 1} (${MiB(warm.sender)} after the warm-up)`);
          assert.ok(now.target <= warm.target + SLACK, `bridge -T holds ${MiB(now.target)} MiB after round ${i + 1} (${MiB(warm.target)} after the warm-up)`);
        }
        t.diagnostic(`live heap after the warm-up -L ${MiB(warm.sender)} / -T ${MiB(warm.target)} MiB, then ${readings.join(', ')}`);
      } finally {
        await sender.stop();
        await target.stop();
      }
    });
  }
});
