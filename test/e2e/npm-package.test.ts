/**
 * The npm package as a user gets it: `npm pack`, then an install of the tarball into an empty
 * directory with no network (npm ci --offline: every dependency comes from the npm cache that
 * `npm ci` of this repository filled, at the versions of its lockfile), then `npx hybridge demo`
 * and the library from its package name. The tarball carries the licence, the docs every README
 * link points to, and the sources its source maps name.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, normalize } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';

interface LockEntry {
  dev?: boolean;
  [key: string]: unknown;
}

function run(command: string, args: string[], cwd: string, timeoutMs: number): string {
  const result = spawnSync(command, args, { cwd, encoding: 'utf8', timeout: timeoutMs, env: { ...process.env, npm_config_update_notifier: 'false', npm_config_fund: 'false', npm_config_audit: 'false' } });
  assert.equal(result.status, 0, `${command} ${args.join(' ')} (in ${cwd}):\n${result.stdout}\n${result.stderr}`);
  return result.stdout;
}

function listFiles(dir: string, prefix = ''): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? listFiles(join(dir, e.name), `${prefix}${e.name}/`) : [`${prefix}${e.name}`]));
}

describe('the npm package', () => {
  let work: string;
  let unpacked: string;
  let files: Set<string>;
  let tarball: string;
  const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { name: string; version: string; dependencies: Record<string, string>; optionalDependencies?: Record<string, string>; bin: Record<string, string> };

  before(() => {
    work = mkdtempSync(join(tmpdir(), 'hybridge-npm-package-'));
    // --ignore-scripts: `prepare` would rebuild dist/ under the tests that are running from it.
    const packed = JSON.parse(run(NPM, ['pack', '--ignore-scripts', '--json', '--pack-destination', work], REPO, 60_000)) as { filename: string }[];
    tarball = join(work, packed[0]!.filename);
    unpacked = join(work, 'unpacked');
    mkdirSync(unpacked);
    run('tar', ['xzf', tarball, '-C', unpacked, '--strip-components=1'], work, 30_000);
    files = new Set(listFiles(unpacked));
  });
  after(() => rmSync(work, { recursive: true, force: true }));

  it('holds the licence, the README, the docs and examples it links to, and no tests or benchmarks', () => {
    for (const file of ['LICENSE', 'README.md', 'package.json', 'dist/src/cli/main.js', 'dist/src/index.js', 'dist/src/index.d.ts', 'docs/bridge.md']) assert.ok(files.has(file), `${file} is in the package`);
    assert.match(readFileSync(join(unpacked, 'LICENSE'), 'utf8'), /^MIT License/);
    assert.deepEqual([...files].filter((f) => /^(dist\/)?(test|bench)\//.test(f)), [], 'no tests or benchmarks');
    const broken: string[] = [];
    for (const doc of [...files].filter((f) => f === 'README.md' || /^docs\/.*\.md$/.test(f))) {
      const text = readFileSync(join(unpacked, doc), 'utf8');
      for (const [, target] of text.matchAll(/\]\(((?!https?:|mailto:|#)[^)#\s]+)(?:#[^)]*)?\)/g)) {
        const path = normalize(join(dirname(doc), target!)).replace(/\/$/, '');
        const isDirectory = [...files].some((f) => f.startsWith(`${path}/`));
        if (!files.has(path) && !isDirectory) broken.push(`${doc} -> ${target}`);
      }
    }
    assert.deepEqual(broken, [], 'every relative link in the README and docs leads to a file in the package');
  });

  it('has source maps only for sources it ships', () => {
    const maps = [...files].filter((f) => f.endsWith('.js.map'));
    assert.ok(maps.length > 50, `${maps.length} source maps`);
    const missing: string[] = [];
    for (const map of maps) {
      const { sources } = JSON.parse(readFileSync(join(unpacked, map), 'utf8')) as { sources: string[] };
      for (const source of sources) if (!files.has(normalize(join(dirname(map), source)))) missing.push(`${map} -> ${source}`);
    }
    assert.deepEqual(missing.slice(0, 5), [], `${missing.length} source map entries name files that are not in the package`);
  });

  it('installs into an empty directory without the network, and `npx hybridge demo` passes', () => {
    const app = join(work, 'app');
    mkdirSync(app);
    const spec = `file:${tarball}`;
    // The lockfile a first `npm install` would write, from this repository's lockfile: npm then
    // fetches nothing, every dependency tarball being in the cache already.
    const lock = JSON.parse(readFileSync(join(REPO, 'package-lock.json'), 'utf8')) as { packages: Record<string, LockEntry> };
    const packages: Record<string, unknown> = {
      '': { name: 'app', dependencies: { [pkg.name]: spec } },
      [`node_modules/${pkg.name}`]: { version: pkg.version, resolved: spec, license: 'MIT', dependencies: pkg.dependencies, optionalDependencies: pkg.optionalDependencies, bin: pkg.bin },
    };
    for (const [path, entry] of Object.entries(lock.packages)) if (path !== '' && !entry.dev) packages[path] = entry;
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module', dependencies: { [pkg.name]: spec } }));
    writeFileSync(join(app, 'package-lock.json'), JSON.stringify({ name: 'app', lockfileVersion: 3, requires: true, packages }));
    run(NPM, ['ci', '--offline'], app, 180_000);
    assert.ok(existsSync(join(app, 'node_modules', '.bin', 'hybridge')));

    const demo = run(NPM, ['exec', '--offline', '--', 'hybridge', 'demo', '--mib', '2', '--parallel', '2'], app, 120_000);
    assert.match(demo, /All checks passed\./);
    assert.equal(run(NPM, ['exec', '--offline', '--', 'hybridge', 'version'], app, 30_000).trim(), pkg.version);

    // The library by its package name, from an ES module: an embedded relay and a round trip.
    writeFileSync(
      join(app, 'use.mjs'),
      `import { createRelayServer, HybridConnectionClient, HybridConnectionListener } from 'hybridge';
const relay = await createRelayServer({ hybridConnections: ['app'] });
const listener = new HybridConnectionListener(relay.connectionString('app'));
listener.on('connection', (s) => s.pipe(s));
await listener.open();
const stream = await new HybridConnectionClient(relay.connectionString('app')).createConnection();
stream.end('ping');
let echoed = '';
for await (const chunk of stream) echoed += chunk;
await listener.close();
await relay.stop();
console.log(echoed);
`,
    );
    assert.equal(run(process.execPath, ['use.mjs'], app, 30_000).trim(), 'ping');
  });
});
