import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { freePort } from '../helpers/async.js';
import { HYBRIDGE_BIN } from '../helpers/processes.js';

const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const README = readFileSync(join(REPO, 'README.md'), 'utf8');
/** Every port number the README's examples use; the test maps each to a free one. */
const README_PORTS = [9350, 8080, 18080, 28080, 38080, 1080, 6379, 9351, 9352];
const WEB_REPLY = 'hello from the web server';

interface Block {
  kind: string;
  language: string;
  body: string;
}

function readmeBlocks(): { marked: Block[]; unmarkedShell: number } {
  const marked: Block[] = [];
  let unmarkedShell = 0;
  const re = /(?:<!-- readme-test: (\w+) -->\n)?```(\w*)\n([\s\S]*?)```/g;
  for (let m = re.exec(README); m; m = re.exec(README)) {
    const [, kind, language, body] = m;
    if (kind) marked.push({ kind, language: language!, body: body! });
    else if (language === 'sh' || language === 'bash' || language === 'js') unmarkedShell++;
  }
  return { marked, unmarkedShell };
}

/** Runs a bash script in its own process group (so every background job dies with it). */
function runScript(script: string, env: NodeJS.ProcessEnv, cwd: string, timeoutMs: number): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn('bash', ['-c', script], { cwd, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const kill = () => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // Already gone.
      }
    };
    const timer = setTimeout(() => {
      stderr += `\n[readme test] timed out after ${timeoutMs} ms`;
      kill();
    }, timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      kill();
      resolve({ code, stdout, stderr });
    });
  });
}

describe('README', () => {
  const { marked, unmarkedShell } = readmeBlocks();
  let work: string;
  let web: Server;
  const ports = new Map<number, number>();

  before(async () => {
    work = mkdtempSync(join(tmpdir(), 'hybridge-readme-'));
    for (const port of README_PORTS) ports.set(port, await freePort());
    web = createServer((_req, res) => res.end(`${WEB_REPLY}\n`));
    await new Promise<void>((resolve) => web.listen(ports.get(8080), '127.0.0.1', () => resolve()));
  });

  after(async () => {
    web.closeAllConnections();
    await new Promise((resolve) => web.close(resolve));
    rmSync(work, { recursive: true, force: true });
  });

  it('marks every command block, so none escapes this test', () => {
    assert.equal(unmarkedShell, 0, 'every sh/js block in README.md needs a <!-- readme-test: ... --> marker');
    assert.ok(marked.filter((b) => b.kind === 'story').length >= 6);
  });

  it('quick start is exactly npm install, npm run demo, npm test, and the demo passes', async () => {
    const quick = marked.find((b) => b.kind === 'quickstart');
    assert.ok(quick);
    assert.deepEqual(quick.body.trim().split('\n'), ['npm install', 'npm run demo', 'npm test']);
    // npm install ran before this test (CI's npm ci builds through the same prepare script), and
    // npm test is what is running now; the demo runs here exactly as the README shows it.
    const result = await runScript('npm run demo', { ...process.env }, REPO, 120_000);
    assert.equal(result.code, 0, `${result.stdout}\n${result.stderr}`);
    assert.match(result.stdout, /All checks passed\./);
    assert.doesNotMatch(result.stdout, /FAIL/);
  });

  it('the walk-through runs as written, every command succeeding', async () => {
    const shim = join(work, 'bin');
    mkdirSync(shim);
    writeFileSync(join(shim, 'hybridge'), `#!/bin/sh\nexec "${process.execPath}" "${HYBRIDGE_BIN}" "$@"\n`);
    chmodSync(join(shim, 'hybridge'), 0o755);
    const library = marked.find((b) => b.kind === 'library');
    assert.ok(library && library.language === 'js');
    // Inside the package, so that `import ... from 'hybridge'` resolves to this package itself.
    mkdirSync(join(REPO, '.tmp'), { recursive: true });
    const libraryFile = join(REPO, '.tmp', `readme-library-${process.pid}.mjs`);
    writeFileSync(libraryFile, library.body);

    const parts: string[] = [];
    for (const block of marked) {
      if (block.kind === 'story') parts.push(block.body);
      if (block.kind === 'library') parts.push(`node "${libraryFile}"\n`);
    }
    let script = parts.join('\n');
    for (const [from, to] of ports) script = script.replace(new RegExp(`\\b${from}\\b`, 'g'), String(to));
    const env = { ...process.env, PATH: `${shim}:${process.env.PATH}`, HOME: work, HYBRIDGE_CONNECTION_STRING: '' };
    const result = await runScript(`set -euo pipefail\ntrap 'kill $(jobs -p) 2>/dev/null || true' EXIT\n${script}`, env, work, 150_000);
    rmSync(libraryFile, { force: true });
    const output = `${result.stdout}\n--- stderr ---\n${result.stderr.split('\n').slice(-40).join('\n')}`;
    assert.equal(result.code, 0, output);
    const lines = result.stdout.split('\n');
    // bridge -L, port-forward, SOCKS5, bridge -H, and the cluster path each fetched the page.
    assert.equal(lines.filter((l) => l === WEB_REPLY).length, 5, output);
    assert.ok(lines.includes('the old send key no longer works'), output);
    assert.ok(lines.includes('HELLO RELAY'), output);
    assert.ok(lines.includes('web'), `hyco list printed the hybrid connection names\n${output}`);
  });
});
