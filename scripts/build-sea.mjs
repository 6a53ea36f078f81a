// `npm run build:sea`: the whole CLI as one executable, build/sea/hybridge, with Node's single
// executable applications (https://nodejs.org/api/single-executable-applications.html):
//   1. esbuild bundles src/cli/main.ts and every dependency into one CommonJS script (Node 20's SEA
//      runs a single CommonJS script; ioredis and @azure/identity, loaded lazily, are inside it);
//   2. `node --experimental-sea-config` turns it into a preparation blob, with the dashboard's page
//      (dist/src/dashboard, from npm run build) as its assets;
//   3. a copy of this Node binary gets the blob injected with postject.
// The optional native `bufferutil` cannot be inside the executable; WebSocket masking falls back to
// JavaScript, as it does wherever bufferutil is not installed.
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import postject from 'postject';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
// `--out DIR` builds elsewhere (the test builds into a temporary directory).
const outFlag = process.argv.indexOf('--out');
const out = outFlag > 0 && process.argv[outFlag + 1] ? resolve(process.argv[outFlag + 1]) : join(root, 'build', 'sea');
const bundle = join(out, 'hybridge.cjs');
const blob = join(out, 'hybridge.blob');
const executable = join(out, process.platform === 'win32' ? 'hybridge.exe' : 'hybridge');
const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const started = Date.now();
const step = (what) => process.stderr.write(`build:sea: ${what} (${((Date.now() - started) / 1000).toFixed(1)} s)\n`);

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });

await build({
  entryPoints: [join(root, 'src', 'cli', 'main.ts')],
  outfile: bundle,
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  // Native addons cannot live inside the executable; masking.ts falls back to JavaScript.
  external: ['bufferutil'],
  // import.meta has no CommonJS equivalent: the executable's own path stands in for it.
  banner: { js: 'const __hybridgeImportMetaUrl = require("node:url").pathToFileURL(process.execPath).href;' },
  define: {
    'import.meta.url': '__hybridgeImportMetaUrl',
    __HYBRIDGE_SEA__: 'true',
    __HYBRIDGE_VERSION__: JSON.stringify(version),
  },
  legalComments: 'none',
  logLevel: 'warning',
});
step(`bundled ${(statSync(bundle).size / 1048576).toFixed(1)} MiB`);

// The dashboard's page (built by npm run build) travels as the executable's assets, read with node:sea.
const dashboard = join(root, 'dist', 'src', 'dashboard');
const assets = {};
for (const file of ['index.html', 'app.js', 'app.css']) {
  const path = join(dashboard, file);
  if (!existsSync(path)) {
    process.stderr.write(`build:sea: ${path} is missing; run npm run build first\n`);
    process.exit(1);
  }
  assets[`dashboard/${file}`] = path;
}
const config = join(out, 'sea-config.json');
writeFileSync(config, JSON.stringify({ main: bundle, output: blob, disableExperimentalSEAWarning: true, useSnapshot: false, useCodeCache: false, assets }));
execFileSync(process.execPath, ['--experimental-sea-config', config], { stdio: ['ignore', 'ignore', 'inherit'] });
step('prepared the blob');

copyFileSync(process.execPath, executable);
chmodSync(executable, 0o755);
await postject.inject(executable, 'NODE_SEA_BLOB', readFileSync(blob), {
  sentinelFuse: 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2',
  ...(process.platform === 'darwin' ? { machoSegmentName: 'NODE_SEA' } : {}),
});
step(`wrote ${executable} (${(statSync(executable).size / 1048576).toFixed(0)} MiB, Node ${process.version})`);
