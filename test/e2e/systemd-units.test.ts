/**
 * The systemd units in examples/ (a relay, a bridge, a relay-listener, a cluster node): each one
 * passes `systemd-analyze verify` without a single complaint, takes its secrets from an
 * EnvironmentFile, never from the command line, and is hardened (`systemd-analyze security` rates
 * its exposure, 0 best to 10 worst). The ExecStart binary is pointed at a stand-in, since verify
 * checks that it exists. Skipped where systemd-analyze is not installed (Debian package systemd;
 * .ci/run installs it, and it needs no running systemd).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { requireTool } from '../tunnel/tunnel-kit.js';

const EXAMPLES = fileURLToPath(new URL('../../../examples/', import.meta.url));
/** [unit file, the unit name to check (an instance for templates), the highest exposure accepted] */
const UNITS: [string, string, number][] = [
  ['systemd/hybridge-relay.service', 'hybridge-relay.service', 2],
  ['systemd/hybridge-bridge@.service', 'hybridge-bridge@db.service', 2],
  ['systemd/hybridge-relay-listener@.service', 'hybridge-relay-listener@tunnel.service', 2],
  ['cluster/hybridge-relay@.service', 'hybridge-relay@a.service', 5],
];
const HARDENING = ['NoNewPrivileges=yes', 'ProtectSystem=strict', 'ProtectHome=yes', 'PrivateTmp=yes', 'RestrictAddressFamilies=', 'CapabilityBoundingSet='];

describe('systemd units', () => {
  before(() => requireTool('systemd-analyze', 'systemd'));
  const dir = mkdtempSync(join(tmpdir(), 'hybridge-systemd-'));
  const shim = join(dir, 'hybridge');
  writeFileSync(shim, '#!/bin/sh\nexit 0\n');
  chmodSync(shim, 0o755);
  after(() => rmSync(dir, { recursive: true, force: true }));

  for (const [file, unit, maxExposure] of UNITS) {
    it(`${file}: verify is silent, secrets come from an EnvironmentFile, exposure at most ${maxExposure}`, () => {
      const text = readFileSync(join(EXAMPLES, file), 'utf8');
      const execStart = /^ExecStart=(.*)$/m.exec(text)?.[1] ?? '';
      assert.match(text, /^EnvironmentFile=\/etc\/hybridge\//m);
      assert.doesNotMatch(execStart, /--root-key |-k |-x |--connection-string |SharedAccessKey|--socks-password /, 'no secret on the command line');
      for (const setting of HARDENING) assert.ok(text.includes(`\n${setting}`), `${file} sets ${setting}`);
      const template = file.split('/').pop()!;
      writeFileSync(join(dir, template), text.replaceAll('/usr/local/bin/hybridge', shim));

      const verified = spawnSync('systemd-analyze', ['verify', '--man=no', join(dir, unit)], { encoding: 'utf8', timeout: 30_000 });
      assert.equal(verified.status, 0, verified.stderr);
      assert.equal(`${verified.stdout}${verified.stderr}`.trim(), '', 'systemd-analyze verify has nothing to say');

      const security = spawnSync('systemd-analyze', ['security', '--offline=yes', '--no-pager', join(dir, unit)], { encoding: 'utf8', timeout: 30_000 });
      const exposure = /Overall exposure level for \S+: ([\d.]+)/.exec(security.stdout)?.[1];
      assert.ok(exposure !== undefined, `${security.stdout}\n${security.stderr}`);
      assert.ok(Number(exposure) <= maxExposure, `exposure ${exposure} > ${maxExposure}`);
    });
  }
});
