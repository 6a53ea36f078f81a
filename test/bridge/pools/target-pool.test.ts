import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { pino } from 'pino';
import type { PoolPolicy, TcpRemoteBinding } from '../../../src/bridge/config/index.js';
import { Balancer } from '../../../src/bridge/remote/balancer.js';
import { PortTable } from '../../../src/bridge/remote/port-table.js';
import { TargetPool } from '../../../src/bridge/remote/target-pool.js';
import { DialError } from '../../../src/forwarding/dial.js';
import { waitFor } from '../../helpers/async.js';

const tcp = (port: number): TcpRemoteBinding => ({ kind: 'tcp', portName: 'db', host: '127.0.0.1', port });

function policy(overrides: Partial<PoolPolicy['healthCheck']> = {}, balance: PoolPolicy['balance'] = 'round-robin'): PoolPolicy {
  return { balance, healthCheck: { enabled: true, intervalMs: 20, timeoutMs: 10, failuresBeforeDown: 3, successesBeforeUp: 2, ...overrides } };
}

/** A logger whose records the test can read. */
function recordingLogger() {
  const records: { level: number; msg: string; [key: string]: unknown }[] = [];
  const log = pino({ level: 'debug', base: null }, { write: (line: string) => void records.push(JSON.parse(line) as (typeof records)[number]) });
  return { log, records, messages: (msg: string) => records.filter((r) => r.msg === msg) };
}

const refused = (port: number) => new DialError(`127.0.0.1:${port}`, 'connection_refused', new Error('ECONNREFUSED'));

describe('Balancer', () => {
  test('round-robin: members take turns, an ineligible one loses its turn', () => {
    const members = [{ active: 0, id: 1 }, { active: 0, id: 2 }, { active: 0, id: 3 }];
    const b = new Balancer('round-robin');
    assert.deepEqual(Array.from({ length: 4 }, () => b.pick(members, () => true)!.id), [1, 2, 3, 1]);
    assert.deepEqual(Array.from({ length: 4 }, () => b.pick(members, (m) => m.id !== 3)!.id), [2, 1, 2, 1]);
    assert.equal(b.pick(members, () => false), undefined);
  });

  test('least-connections: the member with the fewest open connections; ties alternate', () => {
    const members = [{ active: 3, id: 1 }, { active: 1, id: 2 }, { active: 1, id: 3 }];
    const b = new Balancer('least-connections');
    assert.deepEqual(Array.from({ length: 4 }, () => b.pick(members, () => true)!.id), [2, 3, 2, 3]);
    members[0]!.active = 0;
    assert.equal(b.pick(members, () => true)!.id, 1);
  });
});

describe('TargetPool', () => {
  test('passive detection: a target that does not answer is skipped and taken down while another is up', async () => {
    const { log, messages } = recordingLogger();
    const pool = new TargetPool('db', [tcp(1), tcp(2)], policy(), { relayName: 'r', log });
    const dialled: number[] = [];
    const dial = async (t: TcpRemoteBinding) => {
      dialled.push(t.port);
      if (t.port === 1) throw refused(1);
      return t.port;
    };
    const first = await pool.connect(dial, () => false);
    assert.ok(first.ok && first.value === 2, 'the connection went on to the second target');
    assert.deepEqual(dialled, [1, 2]);
    assert.equal(pool.members[0]!.up, false);
    assert.match(String(messages('target down')[0]?.reason), /a connection could not reach it: cannot connect to 127\.0\.0\.1:1: connection refused/);
    if (first.ok) pool.release(first.member);
    for (let i = 0; i < 4; i++) {
      const next = await pool.connect(dial, () => false);
      assert.ok(next.ok && next.value === 2);
      if (next.ok) pool.release(next.member);
    }
    assert.deepEqual(dialled, [1, 2, 2, 2, 2, 2], 'a target that is down gets no connections');
  });

  test('the last target standing goes down only after FailuresBeforeDown failures in a row', async () => {
    const { log, messages } = recordingLogger();
    const pool = new TargetPool('db', [tcp(1), tcp(2)], policy({ failuresBeforeDown: 3 }), { relayName: 'r', log });
    const dial = async (t: TcpRemoteBinding): Promise<number> => {
      throw refused(t.port);
    };
    const first = await pool.connect(dial, () => false);
    assert.equal(first.ok, false);
    assert.ok(!first.ok && /no target of port "db" answered \(last: connection_refused\)/.test(first.code), !first.ok ? first.code : '');
    assert.deepEqual(pool.members.map((m) => m.up), [false, true]);
    await pool.connect(dial, () => false);
    assert.equal(pool.members[1]!.up, true, 'two failures: still up');
    await pool.connect(dial, () => false);
    assert.equal(pool.members[1]!.up, false, 'three failures in a row: down');
    assert.equal(messages('every target of the port is down; new connections to it are refused until a health check brings one back').length, 1);
    let calls = 0;
    const all = await pool.connect(async () => ++calls, () => false);
    assert.equal(calls, 0, 'every target down: nothing is dialled');
    assert.ok(!all.ok && all.allDown && all.code === 'all 2 targets of port "db" are down');
  });

  test('active checks: down after FailuresBeforeDown failed probes, up after SuccessesBeforeUp passes', async () => {
    const { log, messages } = recordingLogger();
    const healthy = new Map([
      [1, true],
      [2, true],
    ]);
    const probe = async (t: TcpRemoteBinding) => {
      if (!healthy.get(t.port)) throw refused(t.port);
    };
    const pool = new TargetPool('db', [tcp(1), tcp(2)], policy({ failuresBeforeDown: 2, successesBeforeUp: 3 }), { relayName: 'r', log, probe });
    pool.start();
    try {
      assert.equal(messages('target pool').length, 1);
      healthy.set(1, false);
      await waitFor(() => !pool.members[0]!.up, 2000, 'target 1 down');
      assert.match(String(messages('target down')[0]?.reason), /^health check failed 2 times in a row: cannot connect/);
      healthy.set(1, true);
      await waitFor(() => pool.members[0]!.up, 2000, 'target 1 up');
      assert.equal(messages('target up')[0]?.reason, 'health check passed 3 times in a row');
      assert.equal(pool.members[1]!.up, true);
    } finally {
      pool.close();
    }
  });

  test('without health checks every target is tried for every connection and none goes down', async () => {
    const pool = new TargetPool('db', [tcp(1), tcp(2)], policy({ enabled: false }), { relayName: 'r', log: recordingLogger().log });
    const dialled: number[] = [];
    for (let i = 0; i < 3; i++) {
      await pool.connect(async (t) => {
        dialled.push(t.port);
        if (t.port === 1) throw refused(1);
        return t.port;
      }, () => false);
    }
    assert.deepEqual(dialled, [1, 2, 1, 2, 1, 2], 'each connection tries the first target again, then fails over');
    assert.deepEqual(pool.members.map((m) => m.up), [true, true]);
  });

  test('least-connections counts connections until they are released', async () => {
    const pool = new TargetPool('db', [tcp(1), tcp(2)], policy({ enabled: false }, 'least-connections'), { relayName: 'r', log: recordingLogger().log });
    const open = async () => {
      const r = await pool.connect(async (t) => t.port, () => false);
      assert.ok(r.ok);
      return r.member;
    };
    const held = [await open(), await open(), await open()];
    assert.deepEqual(held.map((m) => m.target.port), [1, 2, 1]);
    const ports: number[] = [];
    for (let i = 0; i < 4; i++) {
      const m = await open();
      ports.push(m.target.port);
      pool.release(m);
    }
    assert.deepEqual(ports, [2, 2, 2, 2], 'new connections go to the target with fewer open ones');
  });

  test('Unix-socket targets are health-checked by connecting to the socket', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hybridge-pool-unix-'));
    const live = join(dir, 'live.sock');
    const server = createServer((socket) => socket.destroy()).listen(live);
    await once(server, 'listening');
    const { log, messages } = recordingLogger();
    const table = new PortTable(
      [
        { kind: 'unix', portName: 'api', path: live },
        { kind: 'unix', portName: 'api', path: join(dir, 'missing.sock') },
      ],
      { relayName: 'r', log, outbound: { connectTimeoutMs: 1000 }, defaults: { healthCheck: { intervalMs: 100, failuresBeforeDown: 2 } } },
    );
    table.start();
    try {
      const pool = table.lookup('api')!.stream!;
      await waitFor(() => !pool.members[1]!.up, 3000, 'the missing socket marked down');
      assert.equal(pool.members[0]!.up, true);
      assert.match(String(messages('target down')[0]?.target), /^unix:.*missing\.sock$/);
      assert.match(String(messages('target down')[0]?.reason), /^health check failed 2 times in a row: cannot connect to .*missing\.sock/);
    } finally {
      table.close();
      server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
