/**
 * Huge configurations end in one line, not a stack overflow: a file over the size limit is refused
 * before it is parsed, and more forwarder bindings than a bridge holds are refused before any is read.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { MAX_CONFIG_FILE_BYTES, MAX_FORWARD_BINDINGS } from '../../../src/bridge/config/limits.js';
import { spawnHybridge, waitExit } from '../../helpers/processes.js';
import { expectConfigError, loadYaml } from './config-kit.js';

const dir = mkdtempSync(join(tmpdir(), 'hybridge-config-size-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const remoteEntries = (count: number) => 'RemoteForward:\n' + '  - RelayName: r\n    HostPort: 1\n'.repeat(count);

describe('config file size and binding limits', () => {
  it('a 150,000-entry file is refused with one line (it overflowed the stack)', () => {
    const text = remoteEntries(150_000);
    assert.ok(Buffer.byteLength(text) > MAX_CONFIG_FILE_BYTES);
    expectConfigError(() => loadYaml(text), /^test\.yml: the configuration file is \d+ bytes; at most 4194304 are read/);
  });

  it('more bindings than a bridge holds are refused by count, in one list or across lists and layers', () => {
    const flow = (key: string, count: number) => `${key}:\n` + '- {RelayName: r, HostPort: 1}\n'.repeat(count);
    expectConfigError(() => loadYaml(flow('RemoteForward', MAX_FORWARD_BINDINGS + 1)), /^test\.yml:2:1: RemoteForward has 10001 forwarder bindings; a bridge configuration holds at most 10000/);
    const bindings = 'RemoteForward:\n- RelayName: r\n  Bindings:\n' + '  - {HostPort: 1}\n'.repeat(MAX_FORWARD_BINDINGS + 1);
    expectConfigError(() => loadYaml(bindings), /Bindings has 10001 forwarder bindings/);
    const half = MAX_FORWARD_BINDINGS / 2 + 1;
    const both = flow('RemoteForward', half) + flow('LocalForward', half).replace(/HostPort/g, 'BindPort');
    expectConfigError(() => loadYaml(both), /^the configuration has 10002 forwarder bindings/);
  });

  it('hybridge bridge -f with the 150,000-entry file exits 2 with one line', async () => {
    const file = join(dir, 'big.yml');
    writeFileSync(file, remoteEntries(150_000));
    const proc = spawnHybridge(['bridge', '-f', file], { env: { PATH: process.env.PATH, HOME: dir } });
    assert.equal(await waitExit(proc, 30_000), 2);
    const lines = proc.output().trim().split('\n');
    assert.equal(lines.length, 1, proc.output());
    assert.match(lines[0]!, /^hybridge: .*big\.yml: the configuration file is \d+ bytes; at most 4194304 are read/);
  });
});
