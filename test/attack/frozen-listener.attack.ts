/**
 * Attack: a frozen listener (issue 13): its control channel is open but never read. It still got
 * accept and request commands: 2,000 inline HTTP bodies grew the relay by 249 MiB, and in a pool
 * every Nth new connection waited the 5 s hand-off. Now a write-blocked or silent listener is
 * passed over while another can take the work, a control channel over its buffer budget gets no
 * work at all (the request is answered 502 at once) and is closed 1008 when it stays over it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { HybridConnectionClient, HybridConnectionListener, type HybridConnectionStream } from '../../src/client/index.js';
import { patternBytes, sha256 } from '../helpers/data.js';
import { runAttack, summary } from './kit/attack-run.js';
import { startWorld, type World } from './kit/world.js';

/** One new connection to the pool, a payload there and back; resolves with how long it took. */
async function poolConnection(client: HybridConnectionClient, seed: number): Promise<number> {
  const started = Date.now();
  const stream = await client.createConnection({ retryBudgetMs: 0 });
  const payload = patternBytes(8 * 1024, seed);
  const chunks: Buffer[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c));
  const ended = new Promise<void>((resolve, reject) => {
    stream.once('end', resolve);
    stream.once('error', reject);
  });
  stream.end(payload);
  await ended;
  assert.equal(sha256(Buffer.concat(chunks)), sha256(payload), 'the pool echoed the payload');
  return Date.now() - started;
}

describe('attack: a frozen listener', () => {
  let world: World;
  let pool: HybridConnectionListener;
  before(async () => {
    world = await startWorld({ hycos: [{ name: 'frozen' }, { name: 'pool' }], limitArgs: ['--write-stall-timeout', '2s'] });
    // No pre-connected sockets for the pool's ends: they start after the relay's descriptor baseline
    // is taken, and their idle pooled sockets would count as descriptors the attack left behind.
    pool = new HybridConnectionListener({ connectionString: world.relay.connectionString('pool'), preconnect: 0 });
    pool.on('connection', (s: HybridConnectionStream) => s.on('error', () => undefined).pipe(s));
    pool.on('error', () => undefined);
    await pool.open();
  });
  after(async () => {
    await pool?.close();
    await world?.close();
  });

  it('gets 2,000 inline HTTP bodies (60 KB); in a pool, new connections go to the listener that answers', async (t) => {
    const { relay, legit } = world;
    const client = new HybridConnectionClient({ connectionString: relay.connectionString('pool'), preconnect: 0 });
    const times: number[] = [];
    const params = { port: relay.port, entity: 'frozen', poolEntity: 'pool', listenToken: relay.token('frozen'), poolListenToken: relay.token('pool'), sendToken: relay.token('frozen'), requests: 2000, bodyBytes: 60_000, concurrency: 100, giveUpMs: 200 };
    const report = await runAttack(relay, legit, {
      kind: 'frozen-listener',
      params,
      durationMs: 4000,
      // 2,000 bodies of 60 KB are 120 MB offered; before the write budget the relay grew by 249 MiB
      // on them. After the warm-up run the relay (metrics, JWT and all) starts at 145-165 MiB; the
      // bound leaves it ~60 MiB of room and still catches the bodies being buffered.
      rssLimitMiB: 224,
      // Ten new connections to the pool, one after the other. The frozen listener may be offered
      // one of the first two (then it is demoted after the 5 s hand-off); none after that.
      during: async () => {
        for (let i = 0; i < 10; i++) {
          const ms = await poolConnection(client, 100 + i);
          times.push(ms);
          if (i >= 2 && ms > 2000) assert.fail(`pool connection ${i} took ${ms} ms: the frozen listener was offered it (times so far: ${times.join(', ')})`);
        }
      },
    });
    t.diagnostic(`${summary(report)}; pool connections ${times.join(', ')} ms`);
    assert.ok(Number(report.attacker['status:502'] ?? 0) > 0, 'once over its budget, the frozen listener got no more requests (502 at once)');
    // One per run (the warm-up's and the measured one's): the stalled channel is closed, with a reason.
    const stalled = relay.logLines().filter((l) => l.msg === 'listener offline' && l.hyco === 'frozen' && /did not read/.test(String(l.error)));
    assert.ok(stalled.length >= 2, `the frozen control channel was closed after the write-stall timeout: ${JSON.stringify(stalled)}`);
  });
});
