/**
 * The TLS handshake floor script: opens sequential TCP, full-handshake TLS and resumed TLS
 * connections between two bare Node processes, prints CPU per connection for each, resumes every
 * TLS connection after the first when it offers the last ticket, leaves no process behind, and
 * refuses a bad connection count.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { assertRefusesBadConnectionCount } from '../helpers/floor-script.js';
import { processesMentioning } from '../helpers/processes.js';

const SCRIPT = fileURLToPath(new URL('../../bench/floors/tls-handshake.js', import.meta.url));

describe('bench floor: CPU per TLS connection between bare Node processes', () => {
  test('prints client and server CPU for TCP, full TLS and resumed TLS, and stops every process', () => {
    const r = spawnSync(process.execPath, [SCRIPT, '50'], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^Node v\d+\.\d+\.\d+, OpenSSL [\w.]+; 50 sequential connections per variant, CPU per connection:$/m);
    for (const variant of ['tcp', 'tls-full', 'tls-resumed']) {
      assert.match(r.stdout, new RegExp(`^  ${variant} +client [\\d.]+ ms, server [\\d.]+ ms; [\\d.]+ ms wall each`, 'm'), r.stdout);
    }
    assert.match(r.stdout, /^ {2}tls-resumed .*, 49 of 50 resumed$/m, 'every connection after the first resumed the session');
    assert.deepEqual(processesMentioning('tls-handshake.js'), []);
  });

  test('refuses a connection count that is not a whole number in range', () => assertRefusesBadConnectionCount(SCRIPT, 'tls-handshake'));
});
