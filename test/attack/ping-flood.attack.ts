/**
 * Attack: WebSocket Ping floods whose Pongs are never read (issue 13: the relay queued one Pong
 * per Ping, 73 MiB -> 1.5 GiB in 20 s, then ran out of heap). Now at most one Pong waits per
 * connection, none while the socket is write-blocked, and a peer past 100 pings a second is closed
 * with 1008 and no longer read.
 */
import { after, before, describe, it } from 'node:test';
import { runAttack, summary } from './kit/attack-run.js';
import { startWorld, type World } from './kit/world.js';

describe('attack: ping floods', () => {
  let world: World;
  before(async () => {
    world = await startWorld({ hycos: [{ name: 'ctl' }, { name: 'web' }], publicService: true });
  });
  after(() => world?.close());

  it('on sender legs, anonymously: two connections pinging as fast as the relay reads', async (t) => {
    const { relay, legit } = world;
    t.diagnostic(await runAttack(relay, legit, { kind: 'ping-sender', params: { port: relay.port, entity: 'public', connections: 2 }, durationMs: 2000, rssLimitMiB: 160 }).then(summary));
  });

  it('on a listener control channel (with a Listen token)', async (t) => {
    const { relay, legit } = world;
    t.diagnostic(await runAttack(relay, legit, { kind: 'ping-control', params: { port: relay.port, entity: 'ctl', listenToken: relay.token('ctl'), connections: 2 }, durationMs: 2000, rssLimitMiB: 160 }).then(summary));
  });

  it('on request rendezvous sockets (the attacker is the listener and its own sender)', async (t) => {
    const { relay, legit } = world;
    const params = { port: relay.port, entity: 'web', listenToken: relay.token('web'), sendToken: relay.token('web'), connections: 2 };
    t.diagnostic(await runAttack(relay, legit, { kind: 'ping-rendezvous', params, durationMs: 2000, rssLimitMiB: 160 }).then(summary));
  });
});
