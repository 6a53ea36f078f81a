import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { BoundedLabel, OVERFLOW_LABEL } from '../../src/observability/metrics/bounded-label.js';
import { MetricsAddressError, parseMetricsAddress } from '../../src/observability/metrics/metrics-server.js';
import { claimedRule, describeOperation } from '../../src/relay/management-operation.js';
import { SettingsError } from '../../src/forwarding/settings-error.js';
import { mergeListenerSettings, readListenerFile } from '../../src/tunnel/listener-handlers.js';
import { cleanEnv, oneLine, runCli } from '../relay/management-cli-kit.js';

describe('operations flags and helpers', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hybridge-ops-flags-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('--metrics-addr: host:port, [v6]:port or :port; anything else is refused', () => {
    assert.deepEqual(parseMetricsAddress('127.0.0.1:9464'), { host: '127.0.0.1', port: 9464 });
    assert.deepEqual(parseMetricsAddress('[::1]:9464'), { host: '::1', port: 9464 });
    assert.deepEqual(parseMetricsAddress(':9464'), { host: undefined, port: 9464 });
    for (const bad of ['9464', 'host', 'a:b', '1.2.3.4:99999', '::1:9464', 'h:9 9']) assert.throws(() => parseMetricsAddress(bad), MetricsAddressError, bad);
  });

  test('a capped label keeps the first values and counts the rest as __other__', () => {
    const label = new BoundedLabel(2);
    assert.deepEqual(['a', 'b', 'c', 'a', 'd', 'b'].map((v) => label.value(v)), ['a', 'b', OVERFLOW_LABEL, 'a', OVERFLOW_LABEL, 'b']);
    assert.equal(new BoundedLabel(0).value('anything'), 'anything');
  });

  test('management requests are named as az relay names them; the rule comes from the token, never a key', () => {
    assert.deepEqual(describeOperation('GET', ['hybridconnections']), { operation: 'hyco list' });
    assert.deepEqual(describeOperation('PUT', ['hybridconnections', 'db']), { operation: 'hyco create', hyco: 'db' });
    assert.deepEqual(describeOperation('POST', ['hybridconnections', 'db', 'authorizationrules', 'r', 'regeneratekeys']), { operation: 'keys renew', hyco: 'db', targetRule: 'r' });
    assert.deepEqual(describeOperation('DELETE', ['authorizationrules', 'r']), { operation: 'authorization-rule delete', targetRule: 'r' });
    assert.deepEqual(describeOperation('POST', ['authorizationrules', 'r', 'keys']), { operation: 'keys list', targetRule: 'r' });
    assert.equal(claimedRule('SharedAccessSignature sr=http%3A%2F%2Fx%2F&sig=abc&se=1&skn=ops'), 'ops');
    assert.equal(claimedRule('garbage'), undefined);
  });

  test('relay-listener --config: known keys only; lists add to the flags, scalars win', () => {
    const file = join(dir, 'listener.yml');
    writeFileSync(file, 'allow: [10.0.0.1:22]\nbalance: least-connections\n');
    const merged = mergeListenerSettings({ allow: ['127.0.0.1:80'], allowResolve: false, bridgeTargets: [], balance: 'round-robin' }, readListenerFile(file));
    assert.deepEqual(merged, { allow: ['127.0.0.1:80', '10.0.0.1:22'], allowResolve: false, bridgeTargets: [], balance: 'least-connections', healthCheck: undefined });
    writeFileSync(file, 'allow: 22\nbogus: 1\n');
    assert.throws(() => readListenerFile(file), (err: Error) => err instanceof SettingsError && /allow must be a list/.test(err.message) && /unknown key "bogus"/.test(err.message));
    assert.throws(() => readListenerFile(join(dir, 'missing.yml')), /cannot read/);
  });

  test('bad values are one line and exit 2 before anything starts', { timeout: 60_000 }, async () => {
    const cases: [string[], RegExp][] = [
      [['bridge', '-e', 'ws://127.0.0.1:1', '-L', '5000:x', '--metrics-addr', 'nope'], /^hybridge: --metrics-addr "nope" is not host:port/],
      [['server', '--data', join(dir, 'd1'), '--metrics-addr', '1.2.3.4'], /^hybridge: --metrics-addr "1\.2\.3\.4" is not host:port/],
      [['server', '--data', join(dir, 'd2'), '--no-metrics', '--metrics-addr', '127.0.0.1:9'], /^hybridge: --metrics-addr and --no-metrics contradict each other/],
      [['server', '--data', join(dir, 'd3'), '--webhook', 'ftp://x/'], /^hybridge: --webhook must be an http/],
      [['relay-listener', '--relay', 'ws://127.0.0.1:1', '--hyco', 'h', '--config', join(dir, 'missing.yml')], /^hybridge: --config: cannot read/],
      [['relay-sender', 'port-forward', '127.0.0.1:22', '--relay', 'ws://127.0.0.1:1', '--hyco', 'h', '--metrics-max-targets', '-1'], /^hybridge: --metrics-max-targets must be a whole number/],
      [['status', '--interval', '2m', '-x', 'Endpoint=ws://127.0.0.1:1/;SharedAccessKeyName=a;SharedAccessKey=b'], /^hybridge: --interval must be from 0 to 60s/],
    ];
    const env = cleanEnv({ AZTUNNEL_KEY_NAME: 'a', AZTUNNEL_KEY: 'b' });
    const results = await Promise.all(cases.map(([args]) => runCli(args, env)));
    for (const [i, [args, expected]] of cases.entries()) {
      const r = results[i]!;
      assert.equal(r.code, 2, `${args.join(' ')}: exit ${r.code}, ${r.stderr}`);
      assert.match(oneLine(r.stderr) ?? r.stderr, expected);
    }
  });
});
