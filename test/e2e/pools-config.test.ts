import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { assertUsageError, bridgeEnv, expectUsageErrors } from '../bridge/bridge-kit.js';
import { spawnHybridge, stopAll } from '../helpers/processes.js';

const CS = 'Endpoint=ws://127.0.0.1:1/;SharedAccessKeyName=rule;SharedAccessKey=e29y7Y09bQpdcc/0KfO4WYUOJIMvs6I8cNM8EZpAdHQ=';

describe('target pool options: bad values stop the command with exit code 2 and one line (processes)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hybridge-pool-cli-'));
  after(async () => {
    await stopAll();
    rmSync(dir, { recursive: true, force: true });
  });

  const yaml = (name: string, lines: string[]) => {
    const path = join(dir, name);
    writeFileSync(path, lines.join('\n') + '\n');
    return path;
  };

  test('hybridge bridge', async () => {
    const conflict = yaml('conflict.yml', [
      'RemoteForward:',
      '  - RelayName: db',
      '    Bindings:',
      '      - { PortName: pg, Host: 10.0.0.1, HostPort: 5432, HealthCheck: { Interval: 5s } }',
      '      - { PortName: pg, Host: 10.0.0.2, HostPort: 5432, HealthCheck: { Interval: 10s } }',
    ]);
    const typo = yaml('typo.yml', ['RemoteForward:', '  - RelayName: db', '    HostPort: 5432', '    HealthCheck:', '      FailuresBeforeDwn: 2']);
    const cases: [string, string[], RegExp][] = [
      ['--balance', ['--balance', 'random', '-T', 'db:pg/10.0.0.1:1;pg/10.0.0.2:1'], /^hybridge: --balance "random": LoadBalancing "random" is not one of round-robin, least-connections$/],
      ['--health-check range', ['--health-check', 'interval=50ms', '-T', 'db:1'], /^hybridge: --health-check "interval=50ms": Interval 50ms is out of range 100ms\.\.1h$/],
      ['--health-check item', ['--health-check', 'retries=3', '-T', 'db:1'], /^hybridge: --health-check "retries=3": "retries=3" is not a health-check setting; use on, off, interval=DURATION, timeout=DURATION, fail=N or pass=N$/],
      ['YAML unknown key', ['-f', typo], /^hybridge: .*typo\.yml:5:7: unknown key "FailuresBeforeDwn" in HealthCheck; did you mean "FailuresBeforeDown"\?$/],
      ['YAML conflict', ['-f', conflict], /^hybridge: relay db, port "pg": HealthCheck Interval is 5000 at .*conflict\.yml:4:\d+ but 10000 at .*conflict\.yml:5:\d+; state it once per port\.$/],
      ['-o', ['-o', 'LoadBalancing:weighted', '-T', 'db:1'], /^hybridge: -o LoadBalancing: LoadBalancing "weighted" is not one of round-robin, least-connections$/],
    ];
    await expectUsageErrors(cases, { prefix: ['-x', CS] });
  });

  test('hybridge relay-listener', async () => {
    const cases: [string[], RegExp][] = [
      [['--balance', 'fair'], /^hybridge: --balance: LoadBalancing "fair" is not one of round-robin, least-connections$/],
      [['--health-check', 'timeout=forever'], /^hybridge: --health-check "timeout=forever": Timeout "forever" is not a duration/],
    ];
    for (const [args, pattern] of cases) {
      const proc = spawnHybridge(['relay-listener', 'hc', '-x', CS, '--bridge-target', 'app/10.0.0.1:1;app/10.0.0.2:1', ...args], { env: bridgeEnv() });
      assertUsageError({ code: await proc.exited, output: proc.output() }, pattern, `relay-listener ${args.join(' ')}`);
    }
  });
});
