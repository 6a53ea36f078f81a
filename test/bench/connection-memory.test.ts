/**
 * The connection-memory floor script: measures a bare Node TCP and TLS server holding connections,
 * prints both figures, leaves no process behind, and refuses a bad connection count.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { assertRefusesBadConnectionCount } from '../helpers/floor-script.js';
import { processesMentioning } from '../helpers/processes.js';

const SCRIPT = fileURLToPath(new URL('../../bench/floors/connection-memory.js', import.meta.url));

describe('bench floor: memory per connection of a bare Node server', () => {
  test('prints a figure for plain TCP and for TLS, TLS costing more, and stops every process', () => {
    const r = spawnSync(process.execPath, [SCRIPT, '200'], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 0, r.stderr);
    const figure = (transport: string) => {
      const m = r.stdout.match(new RegExp(`^${transport}: (-?[\\d.]+) KiB of server memory per open connection \\(200 connections\\)$`, 'm'));
      assert.ok(m, `no ${transport} line in:\n${r.stdout}`);
      return Number(m[1]);
    };
    assert.ok(figure('tls') > figure('tcp'), r.stdout);
    assert.match(r.stdout, /^TLS adds [\d.]+ KiB per connection/m);
    assert.deepEqual(processesMentioning('connection-memory.js'), []);
  });

  test('refuses a connection count that is not a whole number in range', () => assertRefusesBadConnectionCount(SCRIPT, 'connection-memory'));
});
