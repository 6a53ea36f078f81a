import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { RemoteBinding } from '../../src/bridge/config/index.js';
import { PortTable } from '../../src/bridge/remote/port-table.js';

const tcp = (portName: string, port: number): RemoteBinding => ({ kind: 'tcp', portName, host: 'localhost', port });
const targetsOf = (table: PortTable, name: string) => table.lookup(name)?.stream?.members.map((m) => m.target);

describe('PortTable: logical port lookup (reference/azbridge.md §1.6)', () => {
  test('exact, case-sensitive names', () => {
    const table = new PortTable([tcp('sql1', 1), tcp('sql2', 2)]);
    assert.deepEqual(targetsOf(table, 'sql1'), [tcp('sql1', 1)]);
    assert.deepEqual(targetsOf(table, 'sql2'), [tcp('sql2', 2)]);
    assert.equal(table.lookup('SQL1'), undefined);
    assert.equal(table.lookup('3'), undefined, 'two names: a number matches nothing');
    assert.deepEqual(table.names, ['sql1', 'sql2']);
  });

  test('exactly one port name: any numeric name reaches it, a UDP name (3434U) does not', () => {
    const table = new PortTable([tcp('3389', 3389)]);
    assert.equal(table.lookup('13389')?.name, '3389');
    assert.equal(table.lookup('3434U'), undefined);
    assert.equal(table.lookup('rdp'), undefined);
  });

  test('HTTP bindings take no stream connections and do not count as a port', () => {
    const table = new PortTable([tcp('22', 22), { kind: 'http', portName: 'http', scheme: 'http', host: 'h', port: 80, path: '/', insecure: false }]);
    assert.deepEqual(table.names, ['22']);
    assert.equal(table.lookup('2222')?.name, '22');
    assert.equal(table.lookup('http'), undefined);
  });

  test('bindings that share a name form one pool and take turns', () => {
    const table = new PortTable([tcp('web', 1), tcp('web', 2), tcp('web', 3)]);
    const pool = table.lookup('web')!.stream!;
    const firsts = Array.from({ length: 6 }, () => {
      const member = pool.acquire()!;
      pool.release(member);
      return (member.target as { port: number }).port;
    });
    assert.deepEqual(firsts, [1, 2, 3, 1, 2, 3]);
    assert.equal(pool.policy.balance, 'round-robin');
    assert.equal(pool.policy.healthCheck.enabled, true, 'a port with several TCP targets is health-checked by default');
  });

  test('a stream and a UDP binding with one name are two pools', () => {
    const table = new PortTable([tcp('dns', 53), { kind: 'udp', portName: 'dns', host: 'localhost', port: 53 }]);
    const entry = table.lookup('dns')!;
    assert.equal(entry.stream?.members.length, 1);
    assert.equal(entry.datagram?.members.length, 1);
    assert.equal(entry.stream?.policy.healthCheck.enabled, false, 'one target: no health checks');
  });
});
