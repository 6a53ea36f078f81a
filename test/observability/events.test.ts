/**
 * Structured events across processes: one connection's tracking id is followed through the relay's
 * event file and log, the sender's log and the listener's log; a `keys renew` lands in the audit log
 * with the rule that did it and no key; webhooks get listener online/offline and the key change,
 * retried when the receiver fails at first.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { encodePreamble, PreambleMode } from '../../src/protocol/azbridge-preamble.js';
import { closeAll, digestOf, exchange, startBridge, startEchoTarget, type TcpTarget } from '../bridge/bridge-kit.js';
import { freePort, waitFor } from '../helpers/async.js';
import { patternBytes } from '../helpers/data.js';
import { stopAll, type RunningProcess } from '../helpers/processes.js';
import { cliJson, connectionString, ROOT_RULE, startServer, type ServerProcess } from '../relay/management-cli-kit.js';

const ROOT_KEY = 'events-test-root-key-0123456789abcdef';
const HYCO = 'ev';

type Rec = Record<string, unknown>;

function jsonLines(text: string): Rec[] {
  return text
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Rec);
}

describe('events, audit log and webhooks (processes)', { timeout: 60_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'hybridge-events-test-'));
  const eventLog = join(dir, 'events.jsonl');
  const auditLog = join(dir, 'audit.jsonl');
  let relay: ServerProcess;
  let echo: TcpTarget;
  let remote: RunningProcess;
  let local: RunningProcess;
  let localPort: number;
  let hooks: Server;
  const delivered: Rec[] = [];
  let failFirst = 2;

  before(async () => {
    hooks = createServer((req: IncomingMessage, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        // The first POSTs fail: the relay must retry them.
        if (failFirst-- > 0) return void res.writeHead(503).end();
        delivered.push(JSON.parse(Buffer.concat(chunks).toString()) as Rec);
        res.writeHead(204).end();
      });
    });
    hooks.listen(0, '127.0.0.1');
    await new Promise((resolve) => hooks.once('listening', resolve));
    const hookUrl = `http://127.0.0.1:${(hooks.address() as AddressInfo).port}/hook`;
    relay = await startServer(['--data', join(dir, 'relay'), '--root-key', ROOT_KEY, '--hyco', HYCO, '--event-log', eventLog, '--audit-log', auditLog, '--webhook', hookUrl]);
    echo = await startEchoTarget();
    localPort = await freePort();
    const cs = connectionString(relay.port, ROOT_RULE, ROOT_KEY);
    remote = await startBridge(['-x', cs, '-T', `${HYCO}:${echo.port}`, '--log-format', 'json']);
    local = await startBridge(['-x', cs, '-L', `${localPort}:${HYCO}`, '--log-format', 'json']);
  });

  after(async () => {
    await stopAll();
    await closeAll();
    await new Promise((resolve) => hooks?.close(resolve));
    rmSync(dir, { recursive: true, force: true });
  });

  test('one tracking id ties the relay events and the three logs together', async () => {
    const payload = patternBytes(200_000, 3);
    const result = await exchange({ port: localPort }, payload);
    assert.deepEqual({ length: result.length, sha256: result.sha256 }, digestOf(payload));
    const senderEnd = (await waitFor(() => jsonLines(local.output()).find((r) => r.msg === 'connection ended'), 5000, 'the sender logged the end'))!;
    const trackingId = senderEnd.trackingId as string;
    assert.match(trackingId, /^[0-9a-f-]{36}$/);
    assert.equal(senderEnd.bytesToListener, payload.length);

    const listenerEnd = (await waitFor(() => jsonLines(remote.output()).find((r) => r.msg === 'connection ended' && r.trackingId === trackingId), 5000, 'the listener logged it'))!;
    assert.equal(listenerEnd.bytesToSender, payload.length);
    const relayEnd = await relay.proc.waitForOutput(new RegExp(`connection ended hyco=${HYCO} trackingId=${trackingId} listenerId=(\\S+) remote=127\\.0\\.0\\.1 bytesToListener=${payload.length + encodePreamble({ mode: PreambleMode.Stream, portName: String(localPort) }).length} bytesToSender=${payload.length + 3} .*event=SenderConnectionClosed`), 5000);

    const steps = (await waitFor(() => {
      const events = jsonLines(readFileSync(eventLog, 'utf8')).filter((e) => e.trackingId === trackingId).map((e) => e.event);
      return events.includes('SenderConnectionClosed') ? events : undefined;
    }, 5000, 'the connection\'s events in the event file'))!;
    assert.deepEqual(steps, ['NewSenderRegistering', 'ListenerAcceptingConnection', 'SenderListenerConnectionEstablished', 'SenderConnectionClosed']);
    const listenerId = jsonLines(readFileSync(eventLog, 'utf8')).find((e) => e.event === 'NewListenerRegistered')?.listenerId;
    assert.equal(relayEnd[1], listenerId, 'the relay names the listener that took it');
  });

  test('keys renew is audited with the rule that did it and without any key; webhooks hear of it after retries', async () => {
    const cs = connectionString(relay.port, ROOT_RULE, ROOT_KEY);
    const created = await cliJson<Rec>(['hyco', 'authorization-rule', 'create', '--hybrid-connection-name', HYCO, '-n', 'senders', '--rights', 'Send', '-x', cs]);
    assert.equal(created.name, 'senders');
    const before = await cliJson<Rec>(['hyco', 'authorization-rule', 'keys', 'list', '--hybrid-connection-name', HYCO, '-n', 'senders', '-x', cs]);
    const renewed = await cliJson<Rec>(['hyco', 'authorization-rule', 'keys', 'renew', '--hybrid-connection-name', HYCO, '-n', 'senders', '--key', 'PrimaryKey', '-x', cs]);
    assert.notEqual(renewed.primaryKey, before.primaryKey);

    const audit = (await waitFor(() => {
      const records = jsonLines(readFileSync(auditLog, 'utf8'));
      return records.some((r) => r.operation === 'keys renew') ? records : undefined;
    }, 5000, 'the audit log has the renewal'))!;
    const renewal = audit.find((r) => r.operation === 'keys renew')!;
    assert.deepEqual(
      { rule: renewal.rule, hyco: renewal.hyco, targetRule: renewal.targetRule, result: renewal.result, status: renewal.status },
      { rule: ROOT_RULE, hyco: HYCO, targetRule: 'senders', result: 'success', status: 200 },
    );
    assert.deepEqual(audit.filter((r) => r.event === 'ManagementOperation').map((r) => r.operation), ['authorization-rule create', 'keys list', 'keys renew']);
    assert.ok(audit.some((r) => r.event === 'AuthorizationRuleKeysChanged' && r.rule === 'senders'), 'the key change itself is audited');
    // The root connection string the relay prints once at its first start is the only place a key may appear.
    const relayLog = relay.proc.output().split('\n').filter((l) => !l.startsWith('Endpoint=')).join('\n');
    const everything = [readFileSync(auditLog, 'utf8'), readFileSync(eventLog, 'utf8'), relayLog].join('\n');
    for (const key of [ROOT_KEY, before.primaryKey, before.secondaryKey, renewed.primaryKey] as string[]) assert.ok(!everything.includes(key), 'no key in the audit log, the event file or the log');

    await waitFor(() => delivered.some((e) => e.event === 'AuthorizationRuleKeysChanged'), 15_000, 'the webhook got the key change');
    assert.ok(delivered.some((e) => e.event === 'NewListenerRegistered' && e.hyco === HYCO), 'the webhook got the listener online, retried after two 503s');
    assert.ok(failFirst < 0, 'the receiver did fail first');
  });

  test('a listener going away reaches the webhook as ListenerUnregistered', async () => {
    await remote.stop();
    await waitFor(() => delivered.some((e) => e.event === 'ListenerUnregistered' && e.hyco === HYCO), 10_000, 'listener offline at the webhook');
  });
});
