/**
 * Aborts travel through `hybridge bridge -H` (processes) over a plain and a TLS relay: a client
 * that goes away mid-response, while its long poll waits, or mid-upload makes the target's request
 * close (the relay tells the listener: rendezvous closed, or hybridgeAbort for a request taken on
 * the control channel; -H destroys its target connection); a target that dies mid-response ends
 * the client's response as cut off (curl exits with an error, fetch rejects), never as a clean
 * short body.
 */
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { endBridgeSuite, startBridge } from '../bridge/bridge-kit.js';
import { curlThrough, fetchThrough, startScriptedTarget, trustRelay, type ClientOutcome, type ScriptedTarget, type TargetRecord } from '../bridge/http-scripted-target.js';
import { delay, waitFor } from '../helpers/async.js';
import { capturingLogger } from '../helpers/capturing-logger.js';
import { patternBytes } from '../helpers/data.js';
import type { RunningProcess } from '../helpers/processes.js';
import { startRelay, type TestRelay } from '../helpers/relay.js';

for (const tls of [false, true]) {
  describe(`relayed HTTP aborts through -H (${tls ? 'TLS' : 'plain'} relay)`, () => {
    let relay: TestRelay;
    let target: ScriptedTarget;
    let bridge: RunningProcess;
    let caFile = '';
    let nextId = 0;
    const logs = capturingLogger();
    const auth = () => ({ ServiceBusAuthorization: relay.token('ab') });
    const url = (path: string) => `${relay.httpBase}/ab${path}`;
    /** Through curl (TLS relay) or fetch (plain relay), with a test id the target records. */
    const get = (path: string, id: string, extra: string[] = []): Promise<ClientOutcome & { code?: number }> =>
      tls ? curlThrough(url(path), { ...auth(), 'X-Test-Id': id }, ['--cacert', caFile, ...extra]) : fetchThrough(url(path), { ...auth(), 'X-Test-Id': id });
    const record = async (id: string): Promise<TargetRecord> => (await waitFor(() => target.records.get(id), 5000, `the target got request ${id}`))!;

    before(async () => {
      relay = await startRelay({ tls, log: logs.log, hybridConnections: ['ab'] });
      target = await startScriptedTarget();
      const trust = trustRelay(relay);
      const env = trust.env;
      caFile = trust.caFile;
      bridge = await startBridge(['-x', relay.connectionString(), '-H', `ab:http/127.0.0.1:${target.port}`], { env });
    });

    after(() => endBridgeSuite(relay));

    test('a client that goes away mid-response closes the target request', async () => {
      const id = `mid-response-${nextId++}`;
      if (tls) {
        const out = await get('/sse?events=400&every=25', id, ['--max-time', '1.5']);
        assert.equal(out.code, 28, `curl timed out as told: ${out.error}`);
        assert.ok(out.bytes > 0, 'events arrived before the abort');
      } else {
        const controller = new AbortController();
        const res = await fetch(url('/sse?events=400&every=25'), { headers: { ...auth(), 'X-Test-Id': id }, signal: controller.signal });
        const reader = res.body!.getReader();
        await reader.read();
        controller.abort();
        await reader.read().catch(() => undefined);
      }
      const seen = await record(id);
      await waitFor(() => seen.closedEarly, 5000, 'the target saw its request closed');
      assert.ok(seen.socket.destroyed, "the target's connection is closed");
      await waitFor(() => logs.lines.some((l) => l.includes('client went away')), 3000, 'the relay logs the abort');
    });

    test('a client that goes away while its long poll waits (request taken on the control channel) closes the target request', async () => {
      const id = `long-poll-${nextId++}`;
      const outcome = tls ? get('/hold', id, ['--max-time', '1.5']) : fetchThrough(url('/hold'), { ...auth(), 'X-Test-Id': id }, { signal: AbortSignal.timeout(1500) });
      const seen = await record(id);
      assert.equal((await outcome).complete, false);
      await waitFor(() => seen.closedEarly, 5000, 'the target saw its waiting request closed');
      assert.ok(seen.socket.destroyed);
    });

    // The upload client is node:http, over the plain relay (the relay's path is the same over TLS).
    if (!tls) test('a client that goes away mid-upload closes the target request before the body is complete', async () => {
      const id = `upload-${nextId++}`;
      const req = request(url('/hold'), { method: 'POST', headers: { ...auth(), 'X-Test-Id': id, 'Content-Type': 'application/octet-stream' } });
      req.on('error', () => undefined);
      const chunk = patternBytes(64 * 1024, 9);
      for (let i = 0; i < 8; i++) req.write(chunk);
      const seen = await record(id);
      await waitFor(() => seen.requestBytes > 0, 5000, 'body bytes reached the target');
      req.destroy();
      await waitFor(() => seen.closedEarly, 5000, 'the target saw its request closed mid-upload');
      assert.ok(seen.socket.destroyed);
    });

    for (const [path, what] of [
      ['/die-chunked', 'chunked'],
      ['/die-length', 'Content-Length'],
    ] as const) {
      test(`a target that dies mid-response (${what}) cuts the client's response off visibly`, async () => {
        const out = await get(path, `die-${nextId++}`);
        assert.equal(out.complete, false, `the response must not look complete (${out.bytes} bytes)`);
        assert.ok(out.bytes <= 100_000, `${out.bytes} bytes`);
        if (tls) assert.ok([18, 56, 92].includes(out.code!), out.error);
        else assert.match(out.error ?? '', /terminated|other side closed|socket|aborted/i);
        await bridge.waitForOutput(new RegExp(`http request failed hyco=ab method=GET path=${path} .*status=aborted`), 5000);
      });
    }

    test('a target that dies before its small response left the listener: 502, not a wait for the deadline', async () => {
      const out = await get('/die-chunked?bytes=1000', `die-small-${nextId++}`);
      assert.equal(out.status, 502);
      assert.match(out.text, /"code":"ListenerError"/);
      assert.ok(out.ms < 5000, `answered after ${out.ms} ms`);
    });

    test('requests after all of this still work', async () => {
      await delay(100);
      const out = await get('/slow-head?ms=10', `after-${nextId++}`);
      assert.ok(out.complete, out.error);
      assert.equal(out.text, 'finally');
    });
  });
}
