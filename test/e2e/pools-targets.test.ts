import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { endBridgeSuite, expectClosed, startBridge, startUdpEcho, udpClient } from '../bridge/bridge-kit.js';
import { holdConnection, runLoad, startTaggedEcho, trickleExchange, type ClientResult, type TaggedTarget } from '../bridge/pools/pool-kit.js';
import { freePort, waitFor } from '../helpers/async.js';
import type { RunningProcess } from '../helpers/processes.js';
import { startRelay, type TestRelay } from '../helpers/relay.js';

const INTERVAL_MS = 500;
const TIMEOUT_MS = 300;
const FAIL = 2;
const PASS = 2;
const HEALTH = `interval=${INTERVAL_MS}ms,timeout=${TIMEOUT_MS}ms,fail=${FAIL},pass=${PASS}`;

/** `count` connections one after the other; each carries 16 KiB both ways. */
async function sequential(port: number, firstId: number, count: number): Promise<ClientResult[]> {
  const results: ClientResult[] = [];
  for (let i = 0; i < count; i++) results.push(await trickleExchange(port, firstId + i, 16 * 1024, { pieces: 2, gapMs: 0 }));
  return results;
}

function countBy(results: ClientResult[], target: TaggedTarget): number {
  return results.filter((r) => target.ids.has(r.id)).length;
}

function assertAllOk(results: ClientResult[], what: string): void {
  const failed = results.filter((r) => !r.ok);
  assert.equal(failed.length, 0, `${what}: ${failed.length} of ${results.length} failed, e.g. ${failed[0]?.error}`);
}

/** Resolves with how long after `since` the remote logged the line. */
async function loggedAfter(proc: RunningProcess, pattern: RegExp, since: number, timeoutMs: number): Promise<number> {
  await proc.waitForOutput(pattern, timeoutMs);
  return Date.now() - since;
}

const targetRef = (t: TaggedTarget) => `target=tcp:127\\.0\\.0\\.1:${t.port}`;

describe('target pools: one logical port, several targets (processes)', () => {
  let relay: TestRelay;
  const dir = mkdtempSync(join(tmpdir(), 'hybridge-pools-'));

  before(async () => {
    relay = await startRelay({ hybridConnections: ['tp-rr', 'tp-passive', 'tp-lc', 'tp-udp'] });
  });

  after(() => endBridgeSuite(relay, dir));

  test('round-robin with health checks: both serve; one stopped goes down and gets nothing; back up, it serves again; all down is refused clearly', async (t) => {
    const [a, b] = [await startTaggedEcho('a'), await startTaggedEcho('b')];
    const cs = relay.connectionString();
    const port = await freePort();
    const remote = await startBridge(['-x', cs, '--health-check', HEALTH, '-T', `tp-rr:db/127.0.0.1:${a.port};db/127.0.0.1:${b.port}`]);
    const local = await startBridge(['-x', cs, '-L', `${port}/db:tp-rr`]);
    await remote.waitForOutput(/target pool hyco=tp-rr port=db .*balance=round-robin healthCheck="every 500ms, timeout 300ms, down after 2 failures, up after 2 passes"/);

    const first = await sequential(port, 0, 20);
    assertAllOk(first, 'both up');
    assert.deepEqual([countBy(first, a), countBy(first, b)], [10, 10], 'round-robin: each target serves every other connection');

    // A stops; no traffic meanwhile, so only the health checks can notice.
    const stoppedAt = Date.now();
    await a.stop();
    const downMs = await loggedAfter(remote, new RegExp(`target down hyco=tp-rr port=db ${targetRef(a)} reason="health check failed 2 times in a row: cannot connect to 127\\.0\\.0\\.1:\\d+: connection refused" up=1/2`), stoppedAt, 10_000);
    assert.ok(downMs <= INTERVAL_MS * FAIL + TIMEOUT_MS + 700, `marked down ${downMs} ms after it stopped (interval x failures = ${INTERVAL_MS * FAIL} ms)`);

    const whileDown = await runLoad({ port, rate: 10, durationMs: 2000, size: 16 * 1024, pieces: 2, gapMs: 20, firstId: 100 });
    assertAllOk(whileDown, 'one target down');
    assert.equal(countBy(whileDown, b), whileDown.length, 'every connection went to the target that is up');

    const restartedAt = Date.now();
    await a.restart();
    const upMs = await loggedAfter(remote, new RegExp(`target up hyco=tp-rr port=db ${targetRef(a)} reason="health check passed 2 times in a row" up=2/2`), restartedAt, 10_000);
    assert.ok(upMs <= INTERVAL_MS * PASS + TIMEOUT_MS + 700, `back up ${upMs} ms after it restarted (interval x passes = ${INTERVAL_MS * PASS} ms)`);
    const back = await sequential(port, 200, 10);
    assertAllOk(back, 'both up again');
    assert.deepEqual([countBy(back, a), countBy(back, b)], [5, 5], 'traffic returns to the restarted target');
    t.diagnostic(`stopped target marked down after ${downMs} ms, back up after ${upMs} ms (interval ${INTERVAL_MS} ms, ${FAIL} failures, ${PASS} passes)`);

    // Both down: the sender gets a clear refusal naming the port, at once, and both sides log it.
    await Promise.all([a.stop(), b.stop()]);
    await remote.waitForOutput(/ERROR every target of the port is down; new connections to it are refused until a health check brings one back hyco=tp-rr port=db targets=2/, 10_000);
    const refused = await expectClosed(port);
    assert.equal(refused.received, 0);
    await local.waitForOutput(/connection failed hyco=tp-rr port=db .*end=target-unreachable reason="port \\"db\\" refused by the remote side: target unreachable: all 2 targets of port \\"db\\" are down"/);
    await remote.waitForOutput(/connection failed hyco=tp-rr .*port=db .*end=target-unreachable reason="all 2 targets of port \\"db\\" are down \(health checks: every 500ms/);

    await b.restart();
    await remote.waitForOutput(new RegExp(`target up hyco=tp-rr port=db ${targetRef(b)}`), 10_000);
    assertAllOk(await sequential(port, 300, 2), 'one target back after all were down');
    await Promise.all([local.stop(), remote.stop()]);
  });

  test('passive detection: a target stopped under load costs no client a failure', async (t) => {
    const [a, b] = [await startTaggedEcho('a'), await startTaggedEcho('b')];
    const cs = relay.connectionString();
    const port = await freePort();
    // Probes once at start, then only every minute: the connections themselves must notice.
    const remote = await startBridge(['-x', cs, '--health-check', 'interval=60s,timeout=1s', '-T', `tp-passive:db/127.0.0.1:${a.port};db/127.0.0.1:${b.port}`]);
    const local = await startBridge(['-x', cs, '-L', `${port}/db:tp-passive`]);
    await remote.waitForOutput(/target pool hyco=tp-passive/);
    let stoppedAt = Infinity;
    const results = await runLoad({
      port,
      rate: 10,
      durationMs: 3000,
      size: 32 * 1024,
      pieces: 4,
      gapMs: 25,
      during: {
        atMs: 1000,
        run: async () => {
          await a.stop({ cut: false });
          stoppedAt = Date.now();
        },
      },
    });
    assertAllOk(results, 'target stopped under load');
    const afterStop = results.filter((r) => r.startedAt > stoppedAt);
    assert.ok(afterStop.length >= 15);
    assert.equal(countBy(afterStop, b), afterStop.length, 'connections after the stop all went to the other target');
    assert.ok(countBy(results, a) >= 3, 'the stopped target served before it stopped');
    await remote.waitForOutput(new RegExp(`target down hyco=tp-passive port=db ${targetRef(a)} reason="a connection could not reach it: cannot connect to 127\\.0\\.0\\.1:\\d+: connection refused" up=1/2`));
    t.diagnostic(`${results.length} connections, 0 failed; ${afterStop.length} after the stop, all on the other target`);
    await Promise.all([local.stop(), remote.stop()]);
  });

  test('least-connections (YAML): new connections go to the target with fewer open ones', async () => {
    const [a, b] = [await startTaggedEcho('a'), await startTaggedEcho('b')];
    const file = join(dir, 'least.yml');
    writeFileSync(
      file,
      [
        'RemoteForward:',
        '  - RelayName: tp-lc',
        '    LoadBalancing: least-connections',
        '    HealthCheck: { Interval: 1s, Timeout: 500ms, FailuresBeforeDown: 2, SuccessesBeforeUp: 1 }',
        '    Bindings:',
        `      - { PortName: db, Host: 127.0.0.1, HostPort: ${a.port} }`,
        `      - { PortName: db, Host: 127.0.0.1, HostPort: ${b.port} }`,
        '',
      ].join('\n'),
    );
    const cs = relay.connectionString();
    const port = await freePort();
    const remote = await startBridge(['-x', cs, '-f', file]);
    const local = await startBridge(['-x', cs, '-L', `${port}/db:tp-lc`]);
    await remote.waitForOutput(/target pool hyco=tp-lc port=db .*balance=least-connections healthCheck="every 1s, timeout 500ms, down after 2 failures, up after 1 passes"/);

    // Three long connections: the first and third land on one target, the second on the other.
    const held = [];
    for (let id = 0; id < 3; id++) held.push(await holdConnection(port, id, () => a.ids.has(id) || b.ids.has(id)));
    const busy = [0, 1, 2].filter((id) => a.ids.has(id)).length === 2 ? a : b;
    const idle = busy === a ? b : a;
    assert.equal([0, 1, 2].filter((id) => busy.ids.has(id)).length, 2);

    const shorts = await sequential(port, 10, 10);
    assertAllOk(shorts, 'short connections');
    assert.equal(countBy(shorts, idle), 10, `every new connection went to ${idle.name}, which had fewer open`);
    for (const h of held) {
      const r = await h.finish();
      assert.ok(r.ok, `held connection ${h.id}: ${r.error}`);
    }
    await Promise.all([local.stop(), remote.stop()]);
  });

  test('UDP pool: flows take turns between the targets (no active health checks for UDP)', async () => {
    const [u1, u2] = [await startUdpEcho(), await startUdpEcho()];
    const cs = relay.connectionString();
    const port = await freePort();
    const remote = await startBridge(['-x', cs, '-T', `tp-udp:dns/127.0.0.1:${u1.port}U;dns/127.0.0.1:${u2.port}U`]);
    const local = await startBridge(['-x', cs, '-L', `${port}U/dns:tp-udp`]);
    await remote.waitForOutput(/target pool hyco=tp-udp port=dns .*balance=round-robin healthCheck=off/);
    const clients = [await udpClient(), await udpClient()];
    for (const [i, c] of clients.entries()) {
      const payload = Buffer.from(`flow ${i}`);
      await waitFor(
        () => {
          if (c.received.some((m) => m.equals(payload))) return true;
          c.send(payload, port);
          return false;
        },
        10_000,
        `echo for flow ${i}`,
        200,
      );
    }
    assert.ok(u1.count >= 1 && u2.count >= 1, `each UDP target served a flow (${u1.count}, ${u2.count})`);
    await Promise.all(clients.map((c) => c.close()));
    await Promise.all([local.stop(), remote.stop()]);
  });
});
