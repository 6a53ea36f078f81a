/**
 * `npm run build:sea` (scripts/build-sea.mjs): one executable that runs every command with no Node
 * installed beside it. Built into a temporary directory, copied alone into an empty one and run with
 * an empty environment (PATH pointing nowhere): the demo (a relay, bridge -L/-T/-H, relay-sender and
 * relay-listener as processes of the executable itself, every byte checked), the version, and the
 * lazily loaded modules (ioredis for a cluster node, @azure/identity for Entra ID), and the
 * dashboard's page, which travels inside it as assets (the same bytes as the npm package's files).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { freePort } from '../helpers/async.js';
import { spawnProcess, stopAll } from '../helpers/processes.js';

const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const VERSION = (JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string }).version;

describe('the single executable (npm run build:sea)', () => {
  let work: string;
  let alone: string;

  /** Runs the executable from its own empty directory with nothing in the environment but HOME and TMPDIR. */
  const runAlone = (args: string[], timeoutMs: number) =>
    spawnSync(join(alone, 'hybridge'), args, { cwd: alone, encoding: 'utf8', timeout: timeoutMs, env: { PATH: join(alone, 'no-such-dir'), HOME: alone, TMPDIR: work }, input: '' });

  before(() => {
    work = mkdtempSync(join(tmpdir(), 'hybridge-sea-'));
    const built = spawnSync(process.execPath, [join(REPO, 'scripts', 'build-sea.mjs'), '--out', join(work, 'build')], { cwd: REPO, encoding: 'utf8', timeout: 120_000 });
    assert.equal(built.status, 0, built.stderr);
    alone = join(work, 'alone');
    mkdirSync(alone);
    copyFileSync(join(work, 'build', 'hybridge'), join(alone, 'hybridge'));
    spawnSync('chmod', ['755', join(alone, 'hybridge')]);
  });
  after(async () => {
    await stopAll();
    rmSync(work, { recursive: true, force: true });
  });

  it('runs the demo with no Node beside it: every check passes', () => {
    const demo = runAlone(['demo', '--mib', '2', '--parallel', '4'], 90_000);
    assert.equal(demo.status, 0, `${demo.stdout}\n${demo.stderr}`);
    assert.match(demo.stdout, /All checks passed\./);
    assert.doesNotMatch(demo.stdout, /FAIL/);
  });

  it('knows its version and its commands', () => {
    assert.equal(runAlone(['version'], 20_000).stdout, `${VERSION}\n`);
    const help = runAlone(['relay-sender', 'port-forward', '--help'], 20_000);
    assert.equal(help.status, 0, help.stderr);
    assert.match(help.stdout, /Examples:/);
    assert.match(runAlone(['completion', 'bash'], 20_000).stdout, /complete -o default -F _hybridge hybridge/);
  });

  it('loads ioredis and @azure/identity from inside itself when a command needs them', async () => {
    const port = await freePort();
    const cluster = runAlone(['server', '--port', '0', '--redis', `redis://127.0.0.1:${port}`, '--public-url', 'ws://127.0.0.1:1'], 30_000);
    assert.equal(cluster.status, 1, cluster.stderr);
    assert.equal(cluster.stderr.trim(), `hybridge: cannot reach Redis at redis://127.0.0.1:${port}: connect ECONNREFUSED 127.0.0.1:${port}`);
    // No SAS key anywhere: DefaultAzureCredential runs its chain and finds no credential on this machine.
    const entra = runAlone(['relay-sender', 'connect', '--relay', `ws://127.0.0.1:${port}`, '--hyco', 'x', '127.0.0.1:22'], 60_000);
    assert.equal(entra.status, 1, entra.stderr);
    assert.match(entra.stderr, /^hybridge: relay-sender connect: no tunnel to 127\.0\.0\.1:22: connecting to "x": could not get a Microsoft Entra ID token: /);
  });

  it('serves the dashboard from inside itself: the page, its script and its styles, byte for byte', async () => {
    const server = spawnProcess(join(alone, 'hybridge'), ['server', '--port', '0', '--data', join(work, 'data'), '--dashboard'], {
      cwd: alone,
      env: { PATH: join(alone, 'no-such-dir'), HOME: alone, TMPDIR: work },
    });
    const url = (await server.waitForOutput(/relay listening url=(\S+)/, 20_000))[1]!.replace(/^ws/, 'http');
    for (const file of ['index.html', 'app.js', 'app.css']) {
      const path = file === 'index.html' ? '' : `/${file}`;
      const response = await fetch(`${url.replace(/\/$/, '')}/$hybridge/dashboard${path}`);
      assert.equal(response.status, 200, file);
      const body = Buffer.from(await response.arrayBuffer());
      assert.ok(body.equals(readFileSync(join(REPO, 'dist', 'src', 'dashboard', file))), `${file}: the package's bytes`);
    }
    await server.stop();
  });
});
