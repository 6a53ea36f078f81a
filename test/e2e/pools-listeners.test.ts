import assert from 'node:assert/strict';
import { after, before, describe, test, type TestContext } from 'node:test';
import { bridgeEnv, endBridgeSuite, startBridge } from '../bridge/bridge-kit.js';
import { runLoad, startTaggedEcho, type ClientResult, type TaggedTarget } from '../bridge/pools/pool-kit.js';
import { freePort } from '../helpers/async.js';
import { spawnHybridge, type RunningProcess } from '../helpers/processes.js';
import { startRelay, type TestRelay } from '../helpers/relay.js';

const KiB = 1024;
const RATE = 10;
const RUN_MS = 7000;
const KILL_AT_MS = 3000;

/**
 * A pool of listener processes on one hybrid connection, each forwarding port "app" to its own
 * echo target (so the targets tell which listener served a connection). A bridge -L in front
 * carries a steady load of new connections (10/s, 64 KiB each way, trickled over ~200 ms so that
 * several are in flight at any time); one listener is killed with SIGKILL mid-run.
 */
describe('listener pools: one of three listeners killed under load (processes)', () => {
  let relay: TestRelay;

  before(async () => {
    relay = await startRelay({ hybridConnections: ['lp-bridges', 'lp-mixed', 'lp-tunnels'] });
  });

  after(() => endBridgeSuite(relay));

  async function startListener(kind: 'bridge' | 'relay-listener', hyco: string, target: TaggedTarget): Promise<RunningProcess> {
    const cs = relay.connectionString();
    if (kind === 'bridge') return startBridge(['-x', cs, '-T', `${hyco}:app/127.0.0.1:${target.port}`]);
    const proc = spawnHybridge(['relay-listener', hyco, '-x', cs, '--allow', '127.0.0.1:1', '--bridge-target', `app/127.0.0.1:${target.port}`], { env: bridgeEnv() });
    await proc.waitForOutput(/listener online/, 15_000);
    return proc;
  }

  interface Pool {
    /** Where clients connect. */
    port: number;
    front: RunningProcess;
    listeners: RunningProcess[];
    /** Which listener served a client connection, -1 when none can tell. */
    servedBy(r: ClientResult): number;
    /** The front's log says the connection had been set up and was then lost mid-flight. */
    lostInFlight(r: ClientResult): boolean;
    close(): Promise<void>;
  }

  /** bridge -T / relay-listener --bridge-target processes, each with its own target, behind a bridge -L. */
  async function bridgePool(hyco: string, kinds: ('bridge' | 'relay-listener')[], frontArgs: string[] = []): Promise<Pool> {
    const targets = await Promise.all(kinds.map((_, i) => startTaggedEcho(`target-${i}`)));
    const listeners: RunningProcess[] = [];
    for (const [i, kind] of kinds.entries()) listeners.push(await startListener(kind, hyco, targets[i]!));
    const port = await freePort();
    const front = await startBridge(['-x', relay.connectionString(), ...frontArgs, '-L', `${port}/app:${hyco}`]);
    return {
      port,
      front,
      listeners,
      servedBy: (r) => targets.findIndex((tg) => tg.ids.has(r.id)),
      lostInFlight: (r) => logLines(front, r, 'connection failed').some((l) => /end=relay-error/.test(l)),
      close: async () => Promise.all(targets.map((tg) => tg.close())).then(() => undefined),
    };
  }

  /** relay-listener processes (aztunnel envelopes) behind relay-sender port-forward; the sender's log names the listener of each tunnel. */
  async function tunnelPool(hyco: string, count: number): Promise<Pool> {
    const target = await startTaggedEcho('target');
    const cs = relay.connectionString(hyco);
    const listeners: RunningProcess[] = [];
    const ids: string[] = [];
    for (let i = 0; i < count; i++) {
      const proc = spawnHybridge(['relay-listener', '-x', cs, '--allow', `127.0.0.1:${target.port}`], { env: bridgeEnv() });
      ids.push((await proc.waitForOutput(/listener online .*listenerId=(\S+)/, 15_000))[1]!);
      listeners.push(proc);
    }
    const port = await freePort();
    const front = spawnHybridge(['relay-sender', 'port-forward', `127.0.0.1:${target.port}`, '-x', cs, '-b', `127.0.0.1:${port}`], { env: bridgeEnv() });
    await front.waitForOutput(/listening on/, 15_000);
    return {
      port,
      front,
      listeners,
      servedBy: (r) => {
        const line = logLines(front, r, 'connection open').pop();
        const id = line && /listenerId=(\S+)/.exec(line)?.[1];
        return id && target.ids.has(r.id) ? ids.indexOf(id) : -1;
      },
      lostInFlight: (r) => logLines(front, r, 'connection failed').some((l) => /end=(relay|local)-error/.test(l)),
      close: () => target.close(),
    };
  }

  function logLines(proc: RunningProcess, r: ClientResult, message: string): string[] {
    return proc.output().split('\n').filter((l) => l.includes(message) && l.includes(`client=127.0.0.1:${r.localPort} `));
  }

  async function killedUnderLoad(t: TestContext, pool: Pool, victim: number): Promise<void> {
    const { listeners, servedBy } = pool;
    let goneAt = Infinity;
    const results = await runLoad({
      port: pool.port,
      rate: RATE,
      durationMs: RUN_MS,
      size: 64 * KiB,
      pieces: 8,
      gapMs: 25,
      during: {
        atMs: KILL_AT_MS,
        run: async () => {
          listeners[victim]!.child.kill('SIGKILL');
          await listeners[victim]!.exited;
          goneAt = Date.now();
        },
      },
    });

    const before = results.filter((r) => r.startedAt < goneAt);
    const afterKill = results.filter((r) => r.startedAt >= goneAt);
    const failures = results.filter((r) => !r.ok);
    const failedAfter = afterKill.filter((r) => !r.ok);
    const share = (list: ClientResult[], i: number) => list.filter((r) => servedBy(r) === i).length;
    const retries = (pool.front.output().match(/trying again/g) ?? []).length;
    t.diagnostic(
      `${results.length} connections; before the kill ${before.length} (per listener ${listeners.map((_, i) => share(before, i)).join('/')}), ` +
        `after ${afterKill.length} (per listener ${listeners.map((_, i) => share(afterKill, i)).join('/')}); ` +
        `failures: ${failures.length} in total, ${failedAfter.length} started after the listener was gone; sender-side retries: ${retries}`,
    );

    assert.equal(failedAfter.length, 0, `no connection started after the listener was gone fails: ${JSON.stringify(failedAfter.slice(0, 3))}`);
    for (const failed of failures) {
      // A connection that failed was carrying data when the listener died: the victim served it, or
      // the front had its answer and lost the relayed connection mid-flight.
      const inFlight = servedBy(failed) === victim || pool.lostInFlight(failed);
      assert.ok(inFlight, `connection ${failed.id} failed (${failed.error}) but was not in flight on the killed listener`);
    }
    for (const r of results) {
      const by = servedBy(r);
      if (by >= 0 && by !== victim) assert.ok(r.ok, `connection ${r.id} on surviving listener ${by} finished intact (${r.error})`);
    }
    assert.ok(afterKill.length >= 25, `enough connections after the kill (${afterKill.length})`);
    assert.equal(share(afterKill, victim), 0, 'the killed listener got nothing after it was gone');
    for (let i = 0; i < listeners.length; i++) {
      if (i === victim) continue;
      assert.ok(share(afterKill, i) >= afterKill.length * 0.3, `survivor ${i} served a fair share after the kill (${share(afterKill, i)} of ${afterKill.length})`);
      assert.ok(share(before, i) >= before.length * 0.2, `listener ${i} served a share before the kill (${share(before, i)} of ${before.length})`);
    }
    assert.ok(share(before, victim) >= before.length * 0.2, `the victim served a share before the kill (${share(before, victim)} of ${before.length})`);

    await Promise.all([pool.front.stop(), ...listeners.filter((_, i) => i !== victim).map((l) => l.stop())]);
    await pool.close();
  }

  test('three bridge -T processes: no new connection fails after one is killed, the other two share the load', async (t) => {
    await killedUnderLoad(t, await bridgePool('lp-bridges', ['bridge', 'bridge', 'bridge']), 1);
  });

  test('bridge -T and relay-listener --bridge-target in one pool, prewarmed bridge -L: the relay-listener is killed', async (t) => {
    // Prewarmed connections are paired with a listener before they are needed: those of the killed
    // listener die with it and must not be handed to a client.
    await killedUnderLoad(t, await bridgePool('lp-mixed', ['bridge', 'relay-listener', 'bridge'], ['--prewarm', '4']), 1);
  });

  test('relay-sender port-forward in front of three relay-listener processes: one is killed', async (t) => {
    await killedUnderLoad(t, await tunnelPool('lp-tunnels', 3), 0);
  });
});
