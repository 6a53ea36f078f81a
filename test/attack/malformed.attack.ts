/**
 * Attack: the classics (issue 13), over and over for a few seconds: oversized frames (a 1 TB
 * header, a 200 KiB control message), oversized and garbage request heads, malformed frames on a
 * sender leg, malformed JSON, stray binary messages and invalid UTF-8 on a control channel, a
 * handshake with another WebSocket version. Besides the suite's checks, each case must get the
 * answer the protocol prescribes.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { runAttack, summary } from './kit/attack-run.js';
import { startWorld, type World } from './kit/world.js';

const EXPECTED: Record<string, string> = {
  'control: 1 TB text frame': 'close:1009',
  'control: 200 KiB text message': 'close:1009',
  'control: not JSON': 'close:1008',
  'control: invalid UTF-8': 'close:1007',
  'control: stray binary': 'close:1008',
  'control: close reason not UTF-8': 'close:1007',
  'sender: unmasked frame': 'close:1002',
  'sender: reserved bits': 'close:1002',
  'sender: unknown opcode': 'close:1002',
  'sender: fragmented ping': 'close:1002',
  'sender: 126-byte ping': 'close:1002',
  'head: 64 KiB header': 'http:431',
  'head: garbage': 'http:400',
  'head: 20 KB path': 'http:414',
  'upgrade: version 8': 'http:400',
};

describe('attack: oversized and malformed input', () => {
  let world: World;
  before(async () => {
    world = await startWorld({ hycos: [{ name: 'ctl' }], publicService: true });
  });
  after(() => world?.close());

  it('every case, 8 at a time, for 2 s', async (t) => {
    const { relay, legit } = world;
    const params = { port: relay.port, listenEntity: 'ctl', listenToken: relay.token('ctl'), anonymousEntity: 'public', concurrency: 8 };
    const report = await runAttack(relay, legit, { kind: 'malformed', params, durationMs: 2000, rssLimitMiB: 160 });
    t.diagnostic(summary(report));
    for (const [name, answer] of Object.entries(EXPECTED)) {
      const seen = Object.keys(report.attacker).filter((k) => k.startsWith(`${name} -> `));
      assert.deepEqual(seen, [`${name} -> ${answer}`], `"${name}" was answered ${seen.join(', ') || 'never'}`);
    }
  });
});
