/**
 * Attack: holding descriptors (issue 13). After the header timeout the relay only half-closed, so
 * silent sockets, slowloris, non-reading clients and bodies trickled after a 401/404 kept their
 * descriptors (200 silent sockets still held after 70 s); 1,100 sockets from one client locked out
 * health checks and listeners. Now a connection that does not authenticate within the handshake
 * timeout is destroyed, heads that take too long get 408 and are destroyed, one address holds at
 * most its share of unauthenticated connections, and the relay caps its sockets below its
 * open-file limit. The attacker keeps its ends open: the relay must let go by itself.
 */
import { after, before, describe, it } from 'node:test';
import { runAttack, summary } from './kit/attack-run.js';
import { startWorld, type World } from './kit/world.js';

describe('attack: descriptors held', () => {
  let world: World;
  before(async () => {
    world = await startWorld({ hycos: [{ name: 'web' }], limitArgs: ['--header-timeout', '1s', '--handshake-timeout', '2s', '--idle-timeout', '3s'] });
  });
  after(() => world?.close());

  it('silent, slowloris and non-reading sockets, bodies trickled after a 401 and a 404 (100 each, one address)', async (t) => {
    const { relay, legit } = world;
    const params = { port: relay.port, source: '127.0.0.3', each: 100, entity: 'web' };
    t.diagnostic(summary(await runAttack(relay, legit, { kind: 'hold-sockets', params, durationMs: 2000, rssLimitMiB: 160, relayMustCloseWithin: 4000 })));
  });

  it('1,100 sockets from one address, held open', async (t) => {
    const { relay, legit } = world;
    const params = { port: relay.port, source: '127.0.0.6', count: 1100 };
    t.diagnostic(summary(await runAttack(relay, legit, { kind: 'connection-flood', params, durationMs: 2000, rssLimitMiB: 160, relayMustCloseWithin: 4000 })));
  });
});
