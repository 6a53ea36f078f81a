/**
 * Outages longer than the keep-alive timeouts, with short keep-alives (--keep-alive 2s on
 * relay-sender and relay-listener) so that the tests stay fast: a cut longer than the keep-alive
 * window fails the tunnels it held with a clear reason in the log, and new tunnels work once the
 * link is back; a relay node unplugged without a FIN is noticed by the listener within its
 * keep-alive window, which reconnects once the relay is reachable again. Nothing leaks.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { delay } from '../helpers/async.js';
import type { RunningProcess } from '../helpers/processes.js';
import { assertNoLeaks, snapshot, startFaultSetup, type FaultSetup, type ProcessResources } from './fault-kit.js';
import { skipLab } from './helpers.js';

const KEEP_ALIVE_MS = 2000;
/** A ping every interval, dead when it is not answered within the interval again. */
const KEEP_ALIVE_WINDOW_MS = 2 * KEEP_ALIVE_MS;
/** What a loaded 2-core machine may add to the window (timer ticks, scheduling). */
const SLACK_MS = 1500;
const KiB = 1024;

/** Resolves with the time (ms since the epoch) at which `pattern` first appears in output written after `offset`. */
async function seenAfter(proc: RunningProcess, offset: number, pattern: RegExp, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (pattern.test(proc.output().slice(offset))) return Date.now();
    await delay(50);
  }
  throw new Error(`no ${pattern} within ${timeoutMs} ms; output since:\n${proc.output().slice(offset).slice(-2000)}`);
}

describe('network-fault lab: outages longer than the keep-alive timeouts (--keep-alive 2s)', { skip: skipLab }, () => {
  let s: FaultSetup;
  let baseline: ProcessResources[] = [];
  before(async () => {
    s = await startFaultSetup({ listenerArgs: ['--keep-alive', '2s'], senderArgs: ['--keep-alive', '2s'] });
    const warm = await s.driver.send({ op: 'probe', timeoutMs: 10_000 });
    assert.ok(warm.ok, `a probe before the outages: ${warm.error}`);
    baseline = snapshot(s);
  });
  after(() => s?.stop());

  test('a cut longer than the keep-alive window: the tunnels it held fail with a clear reason, new ones work once the link is back', async (t) => {
    await Promise.all([s.driver.send({ op: 'open', id: 'idle' }), s.driver.send({ op: 'open', id: 'bulk' })]);
    const first = await s.driver.send({ op: 'exchange', id: 'idle', bytes: 64 * KiB, seed: 5, timeoutMs: 10_000 }, (a) => a.ok !== undefined);
    assert.equal(first.sha256, first.expected, 'the idle tunnel works before the cut');
    let transferStarted!: () => void;
    const startedP = new Promise<void>((r) => (transferStarted = r));
    const transfer = s.driver.send({ op: 'exchange', id: 'bulk', bytes: 4096 * KiB, seed: 6, chunk: 32 * KiB, everyMs: 10, timeoutMs: 30_000 }, (a) => a.ok !== undefined, (a) => a.started && transferStarted());
    await startedP;
    const offset = s.sender.output().length;
    const cutAt = Date.now();
    const cutting = s.lab.link('client', 'relay').cutFor(8000);
    const lostAt = await seenAfter(s.sender, offset, /no answer to keep-alive pings for 2000 ms/, 8000);
    const moved = await transfer;
    const { cutMs } = await cutting;
    const idle = await s.driver.send({ op: 'exchange', id: 'idle', bytes: 1024, seed: 7, timeoutMs: 10_000 }, (a) => a.ok !== undefined);
    const probe = await s.driver.send({ op: 'probe', timeoutMs: 10_000 });
    const reasons = s.sender.output().slice(offset).split('\n').filter((l) => /keep-alive|ended|lost|closed/i.test(l));
    t.diagnostic(`cut ${cutMs.toFixed(0)} ms; the sender declared its relay connections lost ${lostAt - cutAt} ms into the cut; the transfer: ${moved.error ?? 'completed'}; the idle tunnel after the cut: ${idle.error ?? 'worked'}; a new tunnel after the cut: ${probe.ok ? `${probe.ms} ms` : probe.error}`);
    t.diagnostic(`sender log: ${reasons.slice(0, 3).join(' | ').slice(0, 600)}`);
    assert.ok(lostAt - cutAt <= KEEP_ALIVE_WINDOW_MS + SLACK_MS, `lost after ${lostAt - cutAt} ms, the keep-alive window is ${KEEP_ALIVE_WINDOW_MS} ms`);
    assert.equal(moved.ok, false, 'the transfer cut off for longer than the keep-alive window failed');
    assert.equal(idle.ok, false, 'so did the idle tunnel');
    assert.equal(probe.ok, true, `a new tunnel works once the link is back: ${probe.error}`);
    await Promise.all([s.driver.send({ op: 'close', id: 'idle' }), s.driver.send({ op: 'close', id: 'bulk' })]);
  });

  test('a relay unplugged without a FIN: the listener notices within its keep-alive window and reconnects when the relay is back', async (t) => {
    const offset = s.listener.output().length;
    await s.relayNode.unplug();
    const unpluggedAt = Date.now();
    let pluggedAt = 0;
    try {
      const stalledAt = await seenAfter(s.listener, offset, /opening another one beside it/, KEEP_ALIVE_WINDOW_MS + SLACK_MS + 2000);
      const deadAt = await seenAfter(s.listener, offset, /control channel closed.*no answer to pings for 2000 ms/, KEEP_ALIVE_WINDOW_MS + SLACK_MS + 2000);
      t.diagnostic(`relay unplugged: the listener saw its control channel stall after ${stalledAt - unpluggedAt} ms and gave it up after ${deadAt - unpluggedAt} ms (window ${KEEP_ALIVE_WINDOW_MS} ms)`);
      assert.ok(deadAt - unpluggedAt <= KEEP_ALIVE_WINDOW_MS + SLACK_MS, `the listener gave up its control channel ${deadAt - unpluggedAt} ms after the relay vanished`);
      await delay(Math.max(0, unpluggedAt + 6000 - Date.now()));
    } finally {
      await s.relayNode.plug();
      pluggedAt = Date.now();
    }
    const onlineAt = await seenAfter(s.listener, offset, /listener online.*reconnected/, 15_000);
    const probe = await s.driver.send({ op: 'probe', timeoutMs: 15_000 });
    t.diagnostic(`relay plugged back after ${pluggedAt - unpluggedAt} ms: the listener was online again ${onlineAt - pluggedAt} ms later; a new tunnel then took ${probe.ms} ms`);
    assert.equal(probe.ok, true, `a new tunnel works after the relay came back: ${probe.error}`);
  });

  test('nothing leaks after the outages', async (t) => {
    await assertNoLeaks(baseline, (line) => t.diagnostic(line));
  });
});
