/**
 * Client IP rules against a real `hybridge server`: clients connect from distinct loopback
 * addresses (127.0.0.2, 127.0.0.3, ...) and the rules are changed with the `hybridge` CLI while
 * the server runs. Rules in this file: 127.0.0.3 Deny, then 127.0.0.0/8 Allow, default Deny.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type WebSocket from 'ws';
import { createSasToken } from '../../src/protocol/sas-token.js';
import { ADDRESS_REFUSED } from '../../src/relay/client-address.js';
import { patternBytes } from '../helpers/data.js';
import { waitFor } from '../helpers/async.js';
import { assertBinaryEcho, closedPromise, httpRequest, openSender, RawListener, startEchoListener, type RelayAddress } from '../relay/protocol-peers.js';
import { cleanEnv, connectionString, runCli, startServer, ROOT_RULE, type ServerProcess } from '../relay/management-cli-kit.js';

const ROOT_KEY = 'iprules-test-root-key-0123456789';
const ALLOWED = '127.0.0.2';
const DENIED = '127.0.0.3';
/** The failure throttle holds answers to an address past its burst for this long (src/relay/failure-throttle.ts). */
const THROTTLE_DELAY_MS = 1000;

interface Refused {
  status: number;
  statusMessage: string;
  elapsedMs: number;
}

describe('client IP rules on a running hybridge server', () => {
  let dataDir: string;
  let server: ServerProcess;
  let relay: RelayAddress;
  let listener: RawListener;
  const open: WebSocket[] = [];
  const manage = (args: string[]) => runCli(['namespace', 'network-rule-set', ...args, '-x', connectionString(server.port, ROOT_RULE, ROOT_KEY)], cleanEnv());
  const badToken = () => createSasToken(`http://127.0.0.1:${server.port}/web`, ROOT_RULE, 'not-the-key-0123456789', Math.floor(Date.now() / 1000) + 3600);
  const refusedSender = async (localAddress: string, token?: string): Promise<Refused> => {
    const started = Date.now();
    try {
      open.push(await openSender(relay, 'web', { localAddress, token }));
    } catch (err) {
      const e = err as { status?: number; statusMessage?: string };
      if (e.status !== undefined) return { status: e.status, statusMessage: e.statusMessage ?? '', elapsedMs: Date.now() - started };
      throw err;
    }
    assert.fail(`a sender from ${localAddress} was let in`);
  };
  const output = () => server.proc.output();

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'hybridge-iprules-e2e-'));
    server = await startServer(['--data', dataDir, '--root-key', ROOT_KEY, '--hyco', 'web']);
    relay = {
      port: server.port,
      wsBase: `ws://127.0.0.1:${server.port}`,
      httpBase: `http://127.0.0.1:${server.port}`,
      token: (entity) => createSasToken(`http://127.0.0.1:${server.port}/${entity}`, ROOT_RULE, ROOT_KEY, Math.floor(Date.now() / 1000) + 3600),
    };
    for (const args of [
      ['ip-rule', 'add', '--ip-address', '127.0.0.0/8', '--action', 'Allow'],
      ['ip-rule', 'add', '--ip-address', DENIED, '--action', 'Deny', '--position', '1'],
      ['update', '--default-action', 'Deny'],
    ]) {
      const result = await manage(args);
      assert.equal(result.code, 0, result.stderr);
    }
    listener = await startEchoListener(relay, 'web');
  });
  after(async () => {
    for (const ws of open) ws.terminate();
    listener?.terminate();
    await server?.proc.stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  test('an allowed address relays data (SHA-256 checked)', async () => {
    const sender = await openSender(relay, 'web', { localAddress: ALLOWED });
    open.push(sender);
    await assertBinaryEcho(sender, patternBytes(256 * 1024, 15));
  });

  test('a denied address gets 403 with a valid token, and the answer says nothing about the rules', async () => {
    const refused = await refusedSender(DENIED);
    assert.equal(refused.status, 403);
    assert.equal(refused.statusMessage, ADDRESS_REFUSED);
    assert.doesNotMatch(refused.statusMessage, /127\.|\brules?\b|\bdeny\b|\/\d/i);
    // The log names the address and the rule that decided (1 = the first in the list).
    await waitFor(() => output().includes(`client refused by the IP rules what=handshake remote=${DENIED} ipRule=1`), 5000, 'the refusal in the log with its rule');

    await assert.rejects(RawListener.open(relay, 'web', { localAddress: DENIED }), (err: { status?: number }) => err.status === 403, 'listeners too');

    const http = await httpRequest(`${relay.httpBase}/web`, { headers: { ServiceBusAuthorization: relay.token('web') }, localAddress: DENIED });
    assert.equal(http.status, 403);
    assert.equal(http.headers.connection, 'close');
    assert.deepEqual(JSON.parse(http.body.toString('utf8')), { error: { code: 'Forbidden', message: ADDRESS_REFUSED } });

    const management = await httpRequest(`${relay.httpBase}/$hybridge/v1/networkrulesets/default`, { headers: { ServiceBusAuthorization: relay.token('') }, localAddress: DENIED });
    assert.equal(management.status, 403, 'management calls are subject to the rules');
    assert.doesNotMatch(management.body.toString('utf8'), /127\.0\.0\.0/);

    const health = await httpRequest(`${relay.httpBase}/$hybridge/health`, { localAddress: DENIED });
    assert.equal(health.status, 200, 'health checks are exempt (load balancers)');
  });

  test('a rule change applies to new connections at once, and cuts the open ones it refuses (1008)', async () => {
    const removed = await manage(['ip-rule', 'remove', '--ip-address', DENIED, '-o', 'none']);
    assert.equal(removed.code, 0, removed.stderr);
    const sender = await openSender(relay, 'web', { localAddress: DENIED });
    open.push(sender);
    await assertBinaryEcho(sender, patternBytes(64 * 1024, 16));
    const closed = closedPromise(sender);

    const added = await manage(['ip-rule', 'add', '--ip-address', DENIED, '--action', 'Deny', '--position', '1', '--query', 'ipRules[0].action', '-o', 'tsv']);
    assert.equal(added.stdout, 'Deny\n', added.stderr);
    assert.equal((await refusedSender(DENIED)).status, 403);
    assert.deepEqual(await closed, { code: 1008, reason: 'the client address is no longer allowed by the IP rules' });
    const kept = await openSender(relay, 'web', { localAddress: ALLOWED });
    open.push(kept);
    await assertBinaryEcho(kept, patternBytes(64 * 1024, 17));
  });

  test('refusal by address comes before authentication: bad tokens from a denied address reach neither the authorizer nor the failure throttle', async () => {
    assert.doesNotMatch(output(), /sender refused/, 'no sender has failed authentication yet');
    const denied = await Promise.all(Array.from({ length: 30 }, () => refusedSender(DENIED, badToken())));
    assert.deepEqual(new Set(denied.map((r) => r.status)), new Set([403]), 'refused by address, not 401 for the token');
    assert.doesNotMatch(output(), /sender refused/, 'the authorizer never saw those tokens');
    const slowest = Math.max(...denied.map((r) => r.elapsedMs));
    assert.ok(slowest < THROTTLE_DELAY_MS, `no answer was held back by the failure throttle (slowest ${slowest} ms)`);

    // The same flood from an allowed address is authenticated, fails, and is throttled.
    const failed = await Promise.all(Array.from({ length: 30 }, () => refusedSender(ALLOWED, badToken())));
    assert.deepEqual(new Set(failed.map((r) => r.status)), new Set([401]));
    await waitFor(() => /sender refused/.test(output()), 5000, 'the authorizer\'s refusals in the log');
    const held = failed.filter((r) => r.elapsedMs >= THROTTLE_DELAY_MS).length;
    assert.ok(held >= 1, 'past its burst, the throttle held answers back');
  });
});
