import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import {
  BridgeConfigError,
  groupPools,
  loadBridgeConfig,
  parseHealthCheckSpec,
  poolDefaults,
  readConfigText,
  resolvePoolPolicy,
  validateRunnable,
  type BridgeConfig,
  type BridgeConfigInput,
  type RemoteBinding,
} from '../../../src/bridge/config/index.js';

const dir = mkdtempSync(join(tmpdir(), 'hybridge-pool-config-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;
function file(lines: string[]): string {
  const path = join(dir, `pools-${++files}.yml`);
  writeFileSync(path, lines.join('\n') + '\n');
  return path;
}

const CS = 'Endpoint=sb://a.servicebus.windows.net/;SharedAccessKeyName=rule;SharedAccessKey=e29y7Y09bQpdcc/0KfO4WYUOJIMvs6I8cNM8EZpAdHQ=';
const isLocal = (ip: string) => ip.startsWith('127.');

function load(input: Partial<BridgeConfigInput>): BridgeConfig {
  return loadBridgeConfig({ machineConfigPath: null, userConfigPath: null, env: {}, isLocalAddress: isLocal, connectionString: CS, ...input });
}

function rejects(run: () => unknown, pattern: RegExp): void {
  assert.throws(run, (err: Error) => {
    assert.ok(err instanceof BridgeConfigError, `${err.name}: ${err.message}`);
    assert.doesNotMatch(err.message, /\n/);
    assert.match(err.message, pattern);
    return true;
  });
}

/** The policy of every pool of the config's first relay, by "mode portName". */
function policies(config: BridgeConfig) {
  const bindings: RemoteBinding[] = config.remoteForward.flatMap((f) => f.bindings);
  return Object.fromEntries(groupPools(bindings).map((g) => [`${g.mode} ${g.portName}`, resolvePoolPolicy(g, poolDefaults(config))]));
}

describe('target pool configuration', () => {
  test('-T with several targets for one port name: a pool, round-robin, health checks on with the defaults', () => {
    const config = load({ remoteForward: ['db:pg/10.0.0.1:5432;pg/10.0.0.2:5432'] });
    assert.deepEqual(policies(config)['stream pg'], {
      balance: 'round-robin',
      healthCheck: { enabled: true, intervalMs: 10_000, timeoutMs: 3_000, failuresBeforeDown: 3, successesBeforeUp: 2 },
    });
  });

  test('one target: no health checks unless switched on; UDP: never', () => {
    assert.equal(policies(load({ remoteForward: ['db:5432'] }))['stream 5432']!.healthCheck.enabled, false);
    assert.equal(policies(load({ remoteForward: ['db:5432'], healthCheck: 'on' }))['stream 5432']!.healthCheck.enabled, true);
    assert.equal(policies(load({ remoteForward: ['db:dns/10.0.0.1:53U;dns/10.0.0.2:53U'], healthCheck: 'on' }))['datagram dns']!.healthCheck.enabled, false);
  });

  test('--balance and --health-check set the defaults for every pool', () => {
    const config = load({ remoteForward: ['db:pg/10.0.0.1:5432;pg/10.0.0.2:5432'], balance: 'least-connections', healthCheck: 'interval=5s,timeout=1s,fail=2,pass=1' });
    assert.equal(config.loadBalancing, 'least-connections');
    assert.deepEqual(config.healthCheck, { intervalMs: 5000, timeoutMs: 1000, failuresBeforeDown: 2, successesBeforeUp: 1 });
    assert.deepEqual(policies(config)['stream pg'], {
      balance: 'least-connections',
      healthCheck: { enabled: true, intervalMs: 5000, timeoutMs: 1000, failuresBeforeDown: 2, successesBeforeUp: 1 },
    });
    assert.equal(policies(load({ remoteForward: ['db:pg/10.0.0.1:5432;pg/10.0.0.2:5432'], healthCheck: 'off' }))['stream pg']!.healthCheck.enabled, false);
  });

  test('the compact health-check form', () => {
    assert.deepEqual(parseHealthCheckSpec('off'), { enabled: false });
    assert.deepEqual(parseHealthCheckSpec('on,interval=250ms'), { enabled: true, intervalMs: 250 });
    assert.deepEqual(parseHealthCheckSpec('interval=2,timeout=1.5s,failures=4,successes=3'), { intervalMs: 2000, timeoutMs: 1500, failuresBeforeDown: 4, successesBeforeUp: 3 });
  });

  test('bad command-line values: one line naming the option', () => {
    rejects(() => load({ balance: 'random' }), /^--balance "random": LoadBalancing "random" is not one of round-robin, least-connections$/);
    rejects(() => load({ healthCheck: 'interval=0s' }), /^--health-check "interval=0s": Interval 0s is out of range 100ms\.\.1h$/);
    rejects(() => load({ healthCheck: 'interval=soon' }), /Interval "soon" is not a duration/);
    rejects(() => load({ healthCheck: 'fail=0' }), /FailuresBeforeDown 0 is out of range 1\.\.100/);
    rejects(() => load({ healthCheck: 'pass=two' }), /SuccessesBeforeUp must be a whole number, not "two"/);
    rejects(() => load({ healthCheck: 'every=5s' }), /"every=5s" is not a health-check setting; use on, off, interval=DURATION/);
    rejects(() => load({ healthCheck: 'fail=1,fail=2' }), /"fail" is given twice/);
  });

  test('YAML: global defaults, entry keys and binding keys (a binding overrides its entry)', () => {
    const path = file([
      'LoadBalancing: least-connections',
      'HealthCheck: { Interval: 5s, Timeout: 1 }',
      'RemoteForward:',
      '  - RelayName: db',
      '    HealthCheck:',
      '      FailuresBeforeDown: 5',
      '      SuccessesBeforeUp: 4',
      '    Bindings:',
      '      - { PortName: pg, Host: 10.0.0.1, HostPort: 5432 }',
      '      - { PortName: pg, Host: 10.0.0.2, HostPort: 5432 }',
      '      - { PortName: web, Host: 10.0.0.3, HostPort: 80, LoadBalancing: round-robin, HealthCheck: off }',
      '      - { PortName: web, Host: 10.0.0.4, HostPort: 80 }',
    ]);
    const config = load({ configFile: path });
    const p = policies(config);
    assert.deepEqual(p['stream pg'], { balance: 'least-connections', healthCheck: { enabled: true, intervalMs: 5000, timeoutMs: 1000, failuresBeforeDown: 5, successesBeforeUp: 4 } });
    assert.equal(p['stream web']!.balance, 'round-robin');
    assert.equal(p['stream web']!.healthCheck.enabled, false);
    assert.deepEqual(validateRunnable(config), []);
  });

  test('-o overrides, and HealthCheck layers merge field by field', () => {
    const path = file(['HealthCheck: { Timeout: 2s }']);
    const config = load({ configFile: path, options: ['LoadBalancing:least-connections', 'HealthCheck:{Interval: 3s}'], healthCheck: 'fail=4' });
    assert.equal(config.loadBalancing, 'least-connections');
    assert.deepEqual(config.healthCheck, { timeoutMs: 2000, intervalMs: 3000, failuresBeforeDown: 4 });
    assert.deepEqual(load({ options: ['HealthCheck:interval=1s,pass=3'] }).healthCheck, { intervalMs: 1000, successesBeforeUp: 3 });
  });

  test('YAML errors name the file, line and column', () => {
    const at = (lines: string[], pattern: RegExp) => {
      const path = file(lines);
      rejects(() => load({ configFile: path }), new RegExp(`^${path.replace(/[.]/g, '\\.')}:${pattern.source}`));
    };
    at(['RemoteForward:', '  - RelayName: db', '    HealthCheck: { Intervall: 5s }', '    HostPort: 1'], /3:20: unknown key "Intervall" in HealthCheck; did you mean "Interval"\?$/);
    at(['RemoteForward:', '  - RelayName: db', '    LoadBalancing: fastest', '    HostPort: 1'], /3:20: LoadBalancing "fastest" is not one of round-robin, least-connections$/);
    at(['HealthCheck:', '  Timeout: 20m'], /2:12: Timeout 20m is out of range 50ms\.\.10m$/);
    at(['HealthCheck:', '  SuccessesBeforeUp: 0'], /2:22: SuccessesBeforeUp 0 is out of range 1\.\.100$/);
    at(['HealthCheck: [1, 2]'], /1:14: HealthCheck must be a single value, not a list$/);
    at(['RemoteForward:', '  - RelayName: web', '    Http: true', '    LoadBalancing: round-robin', '    Bindings:', '      - { PortName: https, Host: a }'], /4:5: LoadBalancing and HealthCheck apply to TCP, UDP and Unix-socket bindings/);
    at(['RemoteForward:', '  - { RelayName: db, HostPort: 1, Balance: round-robin }'], /2:35: unknown key "Balance" in a RemoteForward entry/);
  });

  test('bindings of one pool that contradict each other are reported by validateRunnable', () => {
    const path = file([
      'RemoteForward:',
      '  - RelayName: db',
      '    Bindings:',
      '      - { PortName: pg, Host: 10.0.0.1, HostPort: 5432, LoadBalancing: round-robin }',
      '      - { PortName: pg, Host: 10.0.0.2, HostPort: 5432, LoadBalancing: least-connections }',
      '  - RelayName: dns',
      '    HealthCheck: on',
      '    Bindings:',
      '      - { PortName: dns, Host: 10.0.0.1, HostPort: 53U }',
    ]);
    const problems = validateRunnable(load({ configFile: path }));
    assert.equal(problems.length, 2, problems.join('\n'));
    assert.match(problems[0]!, /^relay db, port "pg": LoadBalancing is round-robin at .*:4:\d+ but least-connections at .*:5:\d+; state it once per port\.$/);
    assert.match(problems[1]!, /^relay dns, port "dns" forwards UDP \(at .*:7:5\): health checks apply to TCP and Unix-socket targets only\.$/);
  });

  test('readConfigText keeps the binding-level settings with their position', () => {
    const layer = readConfigText('RemoteForward:\n  - { RelayName: db, PortName: pg, HostPort: 1, LoadBalancing: LeastConnections }\n', 'x.yml', isLocal);
    assert.deepEqual(layer.remoteForward[0]!.bindings[0], { kind: 'tcp', portName: 'pg', host: 'localhost', port: 1, pool: { where: 'x.yml:2:49', balance: 'least-connections' } });
  });
});
