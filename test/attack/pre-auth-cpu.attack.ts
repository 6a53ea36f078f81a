/**
 * Attack: CPU spent before authentication (issue 13). One unauthenticated 15 KB path `/a/a/...`
 * blocked the event loop ~0.9 s (every prefix of every segment was looked up); a forged management
 * token whose rule name all 3,000 hybrid connections share cost ~20 ms of HMACs per request. Now
 * the request target is bounded before any lookup, matching tries only prefixes that can be a name,
 * and a failed authentication costs the same few HMACs whatever the namespace holds.
 */
import { after, before, describe, it } from 'node:test';
import { createSasToken } from '../../src/protocol/sas-token.js';
import { runAttack, summary } from './kit/attack-run.js';
import type { HycoSpec } from './kit/relay-process.js';
import { startWorld, type World } from './kit/world.js';

const HYCOS = 3000;

describe('attack: pre-authentication CPU', () => {
  let world: World;
  before(async () => {
    const hycos: HycoSpec[] = Array.from({ length: HYCOS }, (_, i) => ({ name: `hc-${i}`, rules: [{ keyName: 'common', key: `key-of-hc-${i}-0123456789abcdef`, rights: ['Listen', 'Send', 'Manage'] }] }));
    world = await startWorld({ hycos });
  });
  after(() => world?.close());

  it('long paths (8 and 15 KB of /a/a/...) from 8 clients, 16 at a time', async (t) => {
    const { relay, legit } = world;
    t.diagnostic(summary(await runAttack(relay, legit, { kind: 'long-paths', params: { port: relay.port, lengths: [15_000, 8_000], clients: 8, concurrency: 16 }, durationMs: 2000, rssLimitMiB: 200 })));
  });

  it(`management calls with a forged token for a rule name that all ${HYCOS} hybrid connections have`, async (t) => {
    const { relay, legit } = world;
    const forged = createSasToken(`http://127.0.0.1:${relay.port}/`, 'common', 'not-the-key-0123456789abcdef', Math.floor(Date.now() / 1000) + 3600);
    const params = { port: relay.port, token: forged, entity: 'hc-17', clients: 8, concurrency: 32 };
    t.diagnostic(summary(await runAttack(relay, legit, { kind: 'management-auth', params, durationMs: 2000, rssLimitMiB: 200 })));
  });
});
