/**
 * Attack: rapid connect/disconnect churn (issue 13) from 8 addresses, 16 at a time: TCP
 * connections cut at once or mid-request, listeners that connect and vanish, senders that leave
 * before or right after pairing, HTTP requests abandoned mid-body. The issue asks for 60 s; npm
 * test runs it for 10 s, HYBRIDGE_ATTACK_CHURN_SECONDS=60 runs the full length (docs/security.md).
 */
import { after, before, describe, it } from 'node:test';
import { runAttack, summary } from './kit/attack-run.js';
import { startWorld, type World } from './kit/world.js';

const SECONDS = Number(process.env.HYBRIDGE_ATTACK_CHURN_SECONDS ?? 10);
// With metrics on, the relay's heap grows by ~25 MiB under churn (per-event label lookups) and V8
// keeps that heap after the load: RSS often stays flat afterwards instead of falling back, so the
// slack here is 40 MiB (16 elsewhere), and a run that stays above it is repeated (below): a leak
// keeps growing from run to run.

describe('attack: connection churn', () => {
  let world: World;
  before(async () => {
    world = await startWorld({ hycos: [{ name: 'ctl' }], publicService: true });
  });
  after(() => world?.close());

  it(`connect and disconnect as fast as it goes for ${SECONDS} s`, { timeout: (SECONDS + 80) * 1000 }, async (t) => {
    const { relay, legit } = world;
    const params = { port: relay.port, listenEntity: 'ctl', listenToken: relay.token('ctl'), anonymousEntity: 'public', clients: 8, concurrency: 16, limitMs: (SECONDS + 30) * 1000 };
    // After 12,000+ churned connections a relay with metrics, events and hosted namespaces settled
    // at 106.5 MiB RSS from a 67.2 MiB baseline in one clean-clone run, and at 122.3 from 68.4 in
    // another, on the same relay code. Three churn runs in a row on one relay left 148, 152, then
    // 113 MiB: the heap keeps the size the load gave it, it does not grow run by run. So when RSS
    // stays up, the same churn runs again and must not add more than 20 MiB to where it stood.
    // Its live heap grows by 0.7-1.0 MiB in a run that follows the 3 s warm-up (JIT code, caches
    // that 10 s of churn fill further; four runs in a row: +0.7, +0.5, +0.3, +0.2), so its slack is
    // 4 MiB, not 2. The timer lists it once leaked (1.1-1.4 MiB a run) have a test of their own:
    // test/relay/listener-timer-lists.test.ts.
    t.diagnostic(
      summary(
        await runAttack(relay, legit, { kind: 'churn', params, durationMs: SECONDS * 1000, rssLimitMiB: 200, settleMs: 30_000, warmupMs: 3000, rssSlackMiB: 40, liveHeapSlackMiB: 4 }),
      ),
    );
  });
});
