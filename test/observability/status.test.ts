import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { age, bytes, formatStatus, statusReport } from '../../src/observability/status/status-table.js';
import type { RelayStatusView } from '../../src/observability/status/relay-status.js';
import { closeAll, startBridge, startEchoTarget } from '../bridge/bridge-kit.js';
import { stopAll } from '../helpers/processes.js';
import { cleanEnv, cliJson, connectionString, ROOT_RULE, runCli, startServer, type ServerProcess } from '../relay/management-cli-kit.js';

const ROOT_KEY = 'status-test-root-key-0123456789abcdef';

function view(time: string, toListener: number): RelayStatusView {
  return {
    node: 'n1',
    time,
    startedAt: '2026-01-01T00:00:00.000Z',
    cluster: null,
    hybridConnections: [{ name: 'db', requiresClientAuthorization: true, listeners: 2, activeConnections: 1, bytesToListener: toListener, bytesToSender: 10 }],
    listeners: [{ hyco: 'db', listenerId: 'L1', remote: '10.0.0.5', since: '2026-01-01T00:00:00.000Z', node: 'n1' }],
    connections: [],
    events: [],
  };
}

describe('hybridge status', () => {
  test('rates come from two samples; the table reads like kubectl get', () => {
    const report = statusReport(view('2026-01-01T00:01:00.000Z', 1000), view('2026-01-01T00:01:02.000Z', 1000 + 4096));
    assert.equal(report.sampledSeconds, 2);
    assert.deepEqual(report.rates.db, { toListener: 2048, toSender: 0 });
    const text = formatStatus(report, 'http://relay:9350');
    const lines = text.split('\n');
    assert.match(lines[0]!, /^RELAY http:\/\/relay:9350 {3}NODE n1 {3}standalone {3}UP 1m02s$/);
    assert.match(lines[2]!, /^HYBRID CONNECTION {3}LISTENERS {3}CONNECTIONS {3}TO LISTENER {3}TO SENDER {3}RATE TO LISTENER {3}RATE TO SENDER {3}CLIENT AUTH$/);
    assert.match(lines[3]!, /^db +2 +1 +5\.0 KiB +10 B +2\.0 KiB\/s +0 B\/s +required$/);
    const columns = (line: string) => [...line.matchAll(/(?<=^| {2})\S/g)].map((m) => m.index);
    assert.deepEqual(columns(lines[3]!), columns(lines[2]!), 'each value starts under its heading');
    assert.match(text, /\nL1 +db +10\.0\.0\.5 +1m02s +n1\n/);
    assert.equal(bytes(1536), '1.5 KiB');
    assert.equal(bytes(50 * 1024 * 1024), '50 MiB');
    assert.equal(age(90_061_000), '1d01h');
  });

  describe('against a relay (processes)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'hybridge-status-test-'));
    let relay: ServerProcess;
    let cs: string;

    before(async () => {
      relay = await startServer(['--data', join(dir, 'relay'), '--root-key', ROOT_KEY, '--hyco', 'st-a', '--hyco', 'st-b']);
      cs = connectionString(relay.port, ROOT_RULE, ROOT_KEY);
      const echo = await startEchoTarget();
      await startBridge(['-x', cs, '-T', `st-a:${echo.port}`]);
    });

    after(async () => {
      await stopAll();
      await closeAll();
      rmSync(dir, { recursive: true, force: true });
    });

    test('-o json and the table show the listener that is online', async () => {
      const report = await cliJson<{ hybridConnections: { name: string; listeners: number }[]; listeners: { hyco: string; listenerId: string }[]; rates: Record<string, unknown> }>(['status', '-x', cs, '-o', 'json', '--interval', '100ms'], cleanEnv());
      assert.deepEqual(report.hybridConnections.map((h) => [h.name, h.listeners]), [['st-a', 1], ['st-b', 0]]);
      assert.equal(report.listeners.length, 1);
      assert.deepEqual(Object.keys(report.rates), ['st-a', 'st-b']);
      const table = await runCli(['status', '-x', cs, '--interval', '0'], cleanEnv());
      assert.equal(table.code, 0, table.stderr);
      assert.match(table.stdout, /\nst-a {3,}1 {3,}0 /);
      assert.match(table.stdout, new RegExp(`\\n${report.listeners[0]!.listenerId} +st-a +127\\.0\\.0\\.1 `));
    });

    test('a rule without Manage is refused with one line and exit 1', async () => {
      await cliJson(['namespace', 'authorization-rule', 'create', '-n', 'listen-only', '--rights', 'Listen', '-x', cs], cleanEnv());
      const keys = await cliJson<{ primaryKey: string }>(['namespace', 'authorization-rule', 'keys', 'list', '-n', 'listen-only', '-x', cs], cleanEnv());
      const result = await runCli(['status', '-x', connectionString(relay.port, 'listen-only', keys.primaryKey), '--interval', '0'], cleanEnv());
      assert.equal(result.code, 1);
      assert.match(result.stderr, /^hybridge: .*Manage.*\n$/);
    });
  });
});
