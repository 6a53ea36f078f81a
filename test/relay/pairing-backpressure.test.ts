/**
 * Backpressure through the relay (issue 2: "respects backpressure on both legs"): when one peer
 * stops reading, the relay stops reading the other instead of buffering. 64 MiB pushed at a peer
 * that reads nothing for 2 s must not grow the relay's memory (heapUsed + arrayBuffers, sampled in
 * the relay's own process) by more than ~16 MiB, and every byte must arrive once reading resumes.
 */
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { createSasToken } from '../../src/protocol/sas-token.js';
import { delay } from '../helpers/async.js';
import { patternBytes, sha256 } from '../helpers/data.js';
import { spawnProcess, type RunningProcess } from '../helpers/processes.js';
import { ROOT_KEY, ROOT_RULE } from '../helpers/relay.js';
import { HealthyLink, openFrameListener, withFramePair, type FrameListener, type RelayAddress } from './protocol-peers.js';

const TOTAL = 64 * 1024 * 1024;
const STALL_MS = 2000;
const MAX_GROWTH = 16 * 1024 * 1024;
const RELAY_PROCESS = fileURLToPath(new URL('./protocol-relay-process.js', import.meta.url));

/** The relay's memory samples (heapUsed + arrayBuffers) printed since `fromLine`. */
function memorySamples(proc: RunningProcess, fromLine: number): number[] {
  return proc
    .output()
    .split('\n')
    .slice(fromLine)
    .filter((l) => l.startsWith('MEM '))
    .map((l) => Number(l.split(' ')[1]));
}

function lineCount(proc: RunningProcess): number {
  return proc.output().split('\n').length - 1;
}

describe('backpressure through the relay (relay in its own process)', () => {
  let proc: RunningProcess;
  let relay: RelayAddress;
  let healthy: HealthyLink;
  let bp: FrameListener;
  let payload: Buffer;

  before(async () => {
    proc = spawnProcess(process.execPath, [RELAY_PROCESS, JSON.stringify({ hybridConnections: ['bp', 'healthy'], limitMs: 60_000 })]);
    const [, port] = await proc.waitForOutput(/READY (\d+)/, 10_000);
    relay = {
      port: Number(port),
      wsBase: `ws://127.0.0.1:${port}`,
      httpBase: `http://127.0.0.1:${port}`,
      token: (entity, o = {}) => createSasToken(`http://127.0.0.1:${port}/${entity}`, o.keyName ?? ROOT_RULE, o.key ?? ROOT_KEY, Math.floor(Date.now() / 1000) + (o.ttlSeconds ?? 3600)),
    };
    healthy = await HealthyLink.start(relay);
    bp = await openFrameListener(relay, 'bp');
    payload = patternBytes(TOTAL, 64);
  });
  after(async () => {
    bp?.control.terminate();
    await healthy?.close();
    await proc?.stop('SIGTERM', 3000);
  });

  for (const direction of ['sender → listener', 'listener → sender'] as const) {
    it(`${direction}: 64 MiB at a peer that reads nothing for 2 s grows the relay by < 16 MiB, then all of it arrives`, async () => {
      await withFramePair(bp, async ({ sender, listenerSide: listener }) => {
        const [from, to] = direction === 'sender → listener' ? [sender, listener] : [listener, sender];
        to.conn.pauseReading();
        await delay(200);
        const before = memorySamples(proc, 0).slice(-8);
        const baseline = Math.max(...before);
        const startLine = lineCount(proc);
        const sending = from.sendChunked(payload, 1024 * 1024);
        await delay(STALL_MS);
        const during = memorySamples(proc, startLine);
        assert.ok(during.length >= 20, `the relay reported its memory (${during.length} samples)`);
        const growth = Math.max(...during) - baseline;
        assert.equal(to.bytes, 0, 'the stalled peer read nothing');
        assert.ok(growth < MAX_GROWTH, `the relay grew by ${(growth / 1048576).toFixed(1)} MiB while the peer stalled`);
        assert.ok(from.conn.sentBytes < TOTAL / 2, `the writer was held back (it pushed ${from.conn.sentBytes} bytes)`);

        to.conn.resumeReading();
        await sending;
        await to.waitFor(() => to.messages.length === 1, 'all 64 MiB arrive', 20_000);
        assert.equal(to.messages[0]!.length, TOTAL);
        assert.equal(to.messages[0]!.sha256, sha256(payload));
        assert.equal(to.messages[0]!.binary, true);
      });
      await healthy.check();
    });
  }
});
