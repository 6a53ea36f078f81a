/**
 * Relayed HTTP when one side gives up midway: a handler that fails after its response already
 * went to the rendezvous must cut the sender's response off (not leave it hanging until the relay's
 * 60 s timeout), and a sender that disconnects during a large streamed response must stop the
 * handler's writes promptly (its response closes) instead of letting it write into the void or
 * wait for 'drain' forever.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, it } from 'node:test';
import type { RelayedHttpRequest, RelayedHttpResponse } from '../../src/client/index.js';
import { delay, drainOrClose, waitFor, withTimeout } from '../helpers/async.js';
import { patternBytes } from '../helpers/data.js';
import { startRelay, type TestRelay } from '../helpers/relay.js';
import { Cleanup, listenerFor, MiB } from './fixtures.js';

interface HandlerRun {
  mode: string;
  written: number;
  closedAt?: number;
  error?: Error;
  finishedWriting?: boolean;
}

describe('relayed HTTP aborts', () => {
  const cleanup = new Cleanup();
  let relay: TestRelay;
  const runs: HandlerRun[] = [];

  async function handler(req: RelayedHttpRequest, res: RelayedHttpResponse): Promise<void> {
    const run: HandlerRun = { mode: req.headers['x-mode'] ?? '', written: 0 };
    runs.push(run);
    res.on('close', () => (run.closedAt = Date.now()));
    res.on('error', (err) => (run.error = err));
    req.resume();
    const chunk = patternBytes(256 * 1024, 3);
    if (run.mode === 'fail-after-headers') {
      res.write(patternBytes(100_000, 4)); // over 64 KiB: headers and body go to the rendezvous
      await delay(200);
      throw new Error('backend failed mid-response');
    }
    // 'stream-forever': up to 1 GiB, honouring backpressure, until the response is gone.
    while (run.written < 1024 * MiB && !res.destroyed) {
      run.written += chunk.length;
      if (!res.write(chunk)) await drainOrClose(res);
    }
    run.finishedWriting = true;
  }

  before(async () => {
    relay = cleanup.add(await startRelay({ hybridConnections: ['abort'] }), (r) => r.stop());
    const listener = cleanup.listener(listenerFor(relay, 'abort', { requestHandler: handler }));
    listener.on('error', () => undefined);
    await listener.open();
  });
  after(() => cleanup.run());

  it('a handler failing after its headers went out cuts the sender off at once', async () => {
    const started = Date.now();
    const outcome = await withTimeout(
      new Promise<string>((resolve) => {
        const req = http.get(`${relay.httpBase}/abort/x`, { headers: { ServiceBusAuthorization: relay.token('abort'), 'X-Mode': 'fail-after-headers' }, agent: false }, (res) => {
          let bytes = 0;
          res.on('data', (c: Buffer) => (bytes += c.length));
          res.on('end', () => resolve(`ended cleanly after ${bytes} bytes`));
          res.on('error', () => resolve(`aborted after ${bytes} bytes, status ${res.statusCode}`));
          res.on('close', () => {
            if (!res.complete) resolve(`aborted after ${bytes} bytes, status ${res.statusCode}`);
          });
        });
        req.on('error', (err) => resolve(`request error ${err.message}`));
      }),
      10_000,
      'sender outcome',
    );
    assert.match(outcome, /aborted/, outcome);
    assert.ok(Date.now() - started < 5000, `took ${Date.now() - started} ms`);
  });

  it('a sender that disconnects mid-response makes the handler stop: its response closes within 3 s', async () => {
    const before = runs.length;
    await withTimeout(
      new Promise<void>((resolve, reject) => {
        const req = http.get(`${relay.httpBase}/abort/y`, { headers: { ServiceBusAuthorization: relay.token('abort'), 'X-Mode': 'stream-forever' }, agent: false }, (res) => {
          let bytes = 0;
          res.on('data', (c: Buffer) => {
            bytes += c.length;
            if (bytes >= 4 * MiB) {
              req.destroy();
              resolve();
            }
          });
        });
        req.on('error', (err) => {
          if (!req.destroyed) reject(err);
        });
      }),
      10_000,
      'sender reads 4 MiB',
    );
    const abortedAt = Date.now();
    await waitFor(() => runs.length > before, 2000, 'handler ran');
    const run = runs[before]!;
    await waitFor(() => run.closedAt !== undefined, 3000, "the handler's response closes");
    await waitFor(() => run.finishedWriting === true, 1000, 'the write loop ends');
    assert.ok(run.closedAt! - abortedAt < 3000);
    assert.ok(run.written < 512 * MiB, `the handler stopped early (wrote ${run.written / MiB} MiB)`);
  });
});
