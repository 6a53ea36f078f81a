import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { distinctFreePortsBelowEphemeral, ephemeralRangeStart } from '../helpers/async.js';
import { HYBRIDGE_BIN } from '../helpers/processes.js';

const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const README = readFileSync(join(REPO, 'README.md'), 'utf8');
/** Every port number the README's examples use; the test maps each to a free one. */
const README_PORTS = [9350, 8080, 18080, 28080, 18088, 1080, 6379, 9351, 9352];
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
    // Distinct (two probes in a row can be handed the same port: seen, the SOCKS5 proxy and a cluster
    // node on one), and below the ephemeral range: the walk-through listens on some of them seconds
    // later, and an outgoing connection took one as its source port meanwhile in a clean-clone run.
    const free = await distinctFreePortsBelowEphemeral(README_PORTS.length);
    README_PORTS.forEach((port, i) => ports.set(port, free[i]!));
    web = createServer((_req, res) => res.end(`${WEB_REPLY}\n`));
    await new Promise<void>((resolve) => web.listen(ports.get(8080), '127.0.0.1', () => resolve()));
  });

  after(async () => {
    web.closeAllConnections();
    await new Promise((resolve) => web.close(resolve));
    rmSync(work, { recursive: true, force: true });
  });

  it('uses only ports below the ephemeral range, every one of them listed here, and binds helper servers to 127.0.0.1', () => {
    const low = ephemeralRangeStart();
    const story = marked.filter((b) => b.kind === 'story').map((b) => b.body).join('\n');
    const used = new Set([...story.matchAll(/(?:127\.0\.0\.1:|--port |localhost:)(\d{2,5})\b/g)].map((m) => Number(m[1])));
    for (const port of used) assert.ok(README_PORTS.includes(port), `port ${port} of the walk-through is not in README_PORTS`);
    for (const port of README_PORTS) assert.ok(port < low, `port ${port} is in this machine's ephemeral range (from ${low}), where outgoing connections take their ports`);
    // Commands (with arguments), not mentions of the packages.
    const helpers = [...README.matchAll(/((?:python3 -m http\.server \d+|redis-server --)[^`\n]*)/g)];
    assert.ok(helpers.length >= 2, 'the web server and Redis commands were found');
    for (const [, command] of helpers) {
      assert.match(command!, /--bind 127\.0\.0\.1/, `"${command}" must bind 127.0.0.1 only`);
    }
    assert.match(README, /HYBRIDGE_DATA_DIR/, 'the data directory variable is documented');
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
    // What `npm link` in the checkout (the quick start) leaves behind, in a global prefix of this
    // test's own: the README's `npm link hybridge` in a scratch directory links to this package.
    const prefix = join(work, 'npm-global');
    mkdirSync(join(prefix, 'lib', 'node_modules'), { recursive: true });
    symlinkSync(REPO.replace(/\/$/, ''), join(prefix, 'lib', 'node_modules', 'hybridge'));

    const parts: string[] = [];
    for (const block of marked) {
      if (block.kind === 'story') parts.push(block.body);
      // "Save this as app.js": the block, byte for byte, in the directory the story is in.
      if (block.kind === 'library') parts.push(`cat > app.js <<'README_LIBRARY_EOF'\n${block.body}README_LIBRARY_EOF\n`);
    }
    let script = parts.join('\n');
    // In one pass: a free port drawn for one example may be another example's number (both lie below the ephemeral range).
    script = script.replace(new RegExp(`\\b(${README_PORTS.join('|')})\\b`, 'g'), (port) => String(ports.get(Number(port))));
    const env = {
      ...process.env,
      PATH: `${shim}:${process.env.PATH}`,
      HOME: work,
      HYBRIDGE_CONNECTION_STRING: '',
      HYBRIDGE_ROOT_KEY: '',
      npm_config_prefix: prefix,
      npm_config_offline: 'true',
      npm_config_audit: 'false',
      npm_config_fund: 'false',
      npm_config_update_notifier: 'false',
    };
    const result = await runScript(`set -euo pipefail\ntrap 'kill $(jobs -p) 2>/dev/null || true' EXIT\n${script}`, env, work, 150_000);
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
