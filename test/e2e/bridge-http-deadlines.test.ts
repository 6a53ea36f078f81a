/**
 * Relayed HTTP deadlines through `hybridge bridge -H` (processes) over a plain and a TLS relay:
 * the response deadline counts to the response head (504 with a JSON body and a log line), the
 * idle time to the longest pause inside a streamed body (the response is cut, visibly), and both
 * come from the relay's defaults or the hybrid connection's own settings. Long responses (events,
 * downloads) stream far past both as long as bytes flow.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { endBridgeSuite, startBridge } from '../bridge/bridge-kit.js';
import { curlThrough, dripBody, type ClientOutcome, fetchThrough, sseBody, startScriptedTarget, trustRelay, type ScriptedTarget } from '../bridge/http-scripted-target.js';
import { waitFor } from '../helpers/async.js';
import { capturingLogger } from '../helpers/capturing-logger.js';
import { sha256 } from '../helpers/data.js';
import { startRelay, type TestRelay } from '../helpers/relay.js';
import { cleanEnv, runCli } from '../relay/management-cli-kit.js';

const RESPONSE_MS = 1000;
const IDLE_MS = 700;

for (const tls of [false, true]) {
  describe(`relayed HTTP deadlines through -H (${tls ? 'TLS' : 'plain'} relay)`, () => {
    let relay: TestRelay;
    let target: ScriptedTarget;
    let caFile = '';
    const logs = capturingLogger();
    const auth = (entity: string) => ({ ServiceBusAuthorization: relay.token(entity) });
    /** curl for the TLS relay (it trusts the relay's certificate), fetch for the plain one. */
    const get = (entity: string, path: string): Promise<ClientOutcome & { code?: number }> => {
      const url = `${relay.httpBase}/${entity}${path}`;
      return tls ? curlThrough(url, auth(entity), ['--cacert', caFile]) : fetchThrough(url, auth(entity));
    };

    before(async () => {
      relay = await startRelay({ tls, log: logs.log, hybridConnections: ['dl', 'dl-own'], limits: { httpResponseTimeoutMs: RESPONSE_MS, httpResponseIdleTimeoutMs: IDLE_MS } });
      target = await startScriptedTarget();
      const trust = trustRelay(relay);
      const env = trust.env;
      caFile = trust.caFile;
      // The hybrid connection's own deadlines, set the way a user would.
      const cli = await runCli(['hyco', 'update', '-n', 'dl-own', '--response-timeout', '3s', '--response-idle-timeout', '2500ms', '-x', relay.connectionString()], cleanEnv(env));
      assert.equal(cli.code, 0, cli.stderr);
      assert.equal(JSON.parse(cli.stdout).responseTimeoutMs, 3000);
      await startBridge(['-x', relay.connectionString(), '-H', `dl:http/127.0.0.1:${target.port}`, '-H', `dl-own:http/127.0.0.1:${target.port}`], { env });
    });

    after(() => endBridgeSuite(relay));

    test('server-sent events stream for twice the response deadline while events flow', async () => {
      const events = 16; // one every 150 ms: 2.4 s, over twice the deadline and three times the idle time
      const out = await get('dl', `/sse?events=${events}&every=150`);
      assert.equal(out.error, undefined);
      assert.equal(out.status, 200);
      const expected = sseBody(events);
      assert.deepEqual({ bytes: out.bytes, sha256: out.sha256 }, { bytes: expected.length, sha256: sha256(expected) });
      assert.ok(out.ms >= 2 * RESPONSE_MS, `the stream lasted ${out.ms} ms`);
      assert.ok(!logs.lines.some((l) => l.includes('deadline passed')), 'no deadline was hit');
    });

    if (!tls) test('a download dripping 64 KiB every 250 ms for 2.5 s arrives whole', async () => {
      const out = await get('dl', '/drip?chunks=10&every=250');
      assert.ok(out.complete, out.error);
      const expected = dripBody(10);
      assert.deepEqual({ bytes: out.bytes, sha256: out.sha256 }, { bytes: expected.length, sha256: sha256(expected) });
    });

    test('no response head within the deadline: 504 with a JSON body naming the deadline, and a log line', async () => {
      const out = await get('dl', '/slow-head?ms=3000');
      assert.equal(out.status, 504);
      const json = JSON.parse(out.text) as { error: { code: string; message: string } };
      assert.equal(json.error.code, 'GatewayTimeout');
      assert.match(json.error.message, /did not respond in the required time: no response head within 1s/);
      assert.match(json.error.message, /hybrid connection "dl"/);
      await waitFor(() => logs.lines.some((l) => l.includes('http response deadline passed: 504') && l.includes('"hyco":"dl"')), 3000, 'the 504 log line');
    });

    test('a streamed response that pauses longer than the idle time is cut: the client sees a failure, not a short clean body', async () => {
      const before = logs.lines.length;
      const out = await get('dl', '/stall');
      assert.equal(out.complete, false, 'the response must not end cleanly');
      if (tls) assert.ok([18, 56, 92].includes(out.code!), out.error);
      else assert.match(out.error ?? '', /terminated|other side closed|aborted|socket/i);
      assert.ok(out.ms >= IDLE_MS - 100, `cut after ${out.ms} ms`);
      await waitFor(() => logs.lines.slice(before).some((l) => l.includes('http response idle time passed: response cut')), 3000, 'the idle log line');
    });

    if (!tls) test('a client that stops reading a large response is cut after the idle time, not held forever', async () => {
      const before = logs.lines.length;
      const socket = connect(relay.port, '127.0.0.1');
      await once(socket, 'connect');
      socket.pause(); // never reads: the relay's writes back up
      socket.on('error', () => undefined);
      socket.write(`GET /dl/drip?chunks=400&every=0 HTTP/1.1\r\nHost: 127.0.0.1\r\nServiceBusAuthorization: ${relay.token('dl')}\r\n\r\n`);
      await waitFor(() => logs.lines.slice(before).some((l) => l.includes('http response idle time passed: response cut')), 10_000, 'the relay cuts the stalled reader');
      socket.destroy();
    });

    if (!tls) test("the hybrid connection's own deadlines apply: a head after 1.8 s and a 1.5 s pause pass on dl-own, not on dl", async () => {
      const slowOwn = await get('dl-own', '/slow-head?ms=1800');
      assert.ok(slowOwn.complete, slowOwn.error);
      assert.equal(slowOwn.text, 'finally');
      const pauseOwn = await get('dl-own', '/pause?ms=1500');
      assert.ok(pauseOwn.complete, pauseOwn.error);
      assert.equal(pauseOwn.text, 'first\nsecond\n');
      const pauseDefault = await get('dl', '/pause?ms=1500');
      assert.equal(pauseDefault.complete, false, 'the relay default idle time (700 ms) cuts the same pause on dl');
    });
  });
}

describe('per-hybrid-connection deadlines: validation', () => {
  let relay: TestRelay;
  before(async () => (relay = await startRelay({ hybridConnections: ['v'] })));
  after(() => relay.stop());

  test('the CLI refuses bad values with one line and exit 2; the API answers 400; "default" and null clear', async () => {
    for (const [value, pattern] of [
      ['10ms', /^hybridge: --response-timeout must be from 100ms to 24h, not "10ms"$/],
      ['soon', /^hybridge: --response-timeout: "soon" is not a duration/],
      ['25h', /^hybridge: --response-timeout must be from 100ms to 24h/],
    ] as const) {
      const out = await runCli(['hyco', 'update', '-n', 'v', '--response-timeout', value, '-x', relay.connectionString()]);
      assert.equal(out.code, 2, out.stderr);
      assert.match(out.stderr.trim(), pattern);
    }
    const base = `${relay.httpBase}/$hybridge/v1/hybridconnections/v`;
    const token = relay.token('');
    const patch = (body: unknown) => fetch(base, { method: 'PATCH', headers: { Authorization: token, 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
    const bad = await patch({ responseIdleTimeoutMs: 'long' });
    assert.equal(bad.status, 400);
    assert.match(((await bad.json()) as { error: { message: string } }).error.message, /responseIdleTimeoutMs must be a whole number of milliseconds from 100 to 86400000/);
    const set = await patch({ responseIdleTimeoutMs: 90_000 });
    assert.equal(set.status, 200, await set.clone().text());
    assert.equal(((await set.json()) as { responseIdleTimeoutMs: number }).responseIdleTimeoutMs, 90_000);
    const cleared = await runCli(['hyco', 'update', '-n', 'v', '--response-idle-timeout', 'default', '-x', relay.connectionString()]);
    assert.equal(cleared.code, 0, cleared.stderr);
    assert.equal(JSON.parse(cleared.stdout).responseIdleTimeoutMs, null);
  });
});
