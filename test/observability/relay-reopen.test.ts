/**
 * SIGHUP on the relay reopens its files, as logrotate expects: after the log, the event file and the
 * audit log were renamed, the relay writes new lines to new files at the same paths; the renamed
 * files get nothing more; a live connection through the relay carries on intact.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { closeAll, digestOf, exchange, startBridge, startEchoTarget } from '../bridge/bridge-kit.js';
import { freePort, waitFor } from '../helpers/async.js';
import { patternBytes } from '../helpers/data.js';
import { spawnHybridge, stopAll } from '../helpers/processes.js';
import { cleanEnv, cliJson, connectionString, ROOT_RULE } from '../relay/management-cli-kit.js';

const ROOT_KEY = 'reopen-test-root-key-0123456789abcdef';
const HYCO = 'ro';

const read = (file: string) => (existsSync(file) ? readFileSync(file, 'utf8') : '');

describe('relay SIGHUP reopens its files (processes)', { timeout: 60_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'hybridge-reopen-test-'));
  after(async () => {
    await stopAll();
    await closeAll();
    rmSync(dir, { recursive: true, force: true });
  });

  test('the log, the event file and the audit log start again at their paths after a rename', async () => {
    const files = { log: join(dir, 'relay.log'), events: join(dir, 'events.jsonl'), audit: join(dir, 'audit.jsonl') };
    const port = await freePort();
    const relay = spawnHybridge(['server', '--host', '127.0.0.1', '--port', String(port), '--data', join(dir, 'relay'), '--root-key', ROOT_KEY, '--hyco', HYCO, '--log-file', files.log, '--event-log', files.events, '--audit-log', files.audit], { env: cleanEnv() });
    await waitFor(() => /relay listening/.test(read(files.log)), 15_000, 'the relay logs to its file');
    const cs = connectionString(port, ROOT_RULE, ROOT_KEY);
    const echo = await startEchoTarget();
    const localPort = await freePort();
    await startBridge(['-x', cs, '-T', `${HYCO}:${echo.port}`]);
    await startBridge(['-x', cs, '-L', `${localPort}:${HYCO}`]);
    await cliJson(['hyco', 'list', '-x', cs], cleanEnv());
    await waitFor(() => read(files.events).includes('"NewListenerRegistered"') && read(files.audit).includes('"hyco list"'), 5000, 'the first lines');

    const rotated = Object.fromEntries(Object.entries(files).map(([name, file]) => [name, `${file}.1`])) as typeof files;
    for (const name of Object.keys(files) as (keyof typeof files)[]) renameSync(files[name], rotated[name]);
    const before = Object.fromEntries(Object.entries(rotated).map(([name, file]) => [name, read(file)])) as typeof files;
    relay.child.kill('SIGHUP');
    await waitFor(() => /SIGHUP: log files reopened/.test(read(files.log)), 10_000, 'the reopened log says so');

    const payload = patternBytes(300_000, 9);
    assert.deepEqual(await exchange({ port: localPort }, payload).then((r) => ({ length: r.length, sha256: r.sha256 })), digestOf(payload), 'the relay still relays');
    await cliJson(['hyco', 'show', '-n', HYCO, '-x', cs], cleanEnv());
    await waitFor(() => read(files.events).includes('"SenderConnectionClosed"') && read(files.audit).includes('"hyco show"'), 5000, 'new lines in the new files');
    for (const name of Object.keys(files) as (keyof typeof files)[]) assert.equal(read(rotated[name]), before[name], `nothing more in ${rotated[name]}`);
    assert.ok(!read(files.audit).includes('"hyco list"'), 'the new audit log starts empty');
    assert.equal(relay.child.exitCode, null, 'the relay is still running');
  });
});
