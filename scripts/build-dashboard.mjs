// Bundles the dashboard page (src/dashboard, preact + htm + uPlot) into dist/src/dashboard/: one
// script, one stylesheet and the HTML, served by `hybridge server --dashboard` with no CDN and no
// inline code (the page's Content-Security-Policy allows only the relay's own files).
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { build } from 'esbuild';

const root = new URL('..', import.meta.url);
const out = new URL('dist/src/dashboard/', root);
mkdirSync(out, { recursive: true });

await build({
  entryPoints: [new URL('src/dashboard/main.ts', root).pathname],
  outfile: new URL('app.js', out).pathname,
  bundle: true,
  format: 'esm',
  target: 'es2022',
  minify: true,
  sourcemap: false,
  legalComments: 'eof',
  logLevel: 'warning',
});

const uplotCss = readFileSync(new URL('node_modules/uplot/dist/uPlot.min.css', root), 'utf8');
writeFileSync(new URL('app.css', out), `${uplotCss}\n${readFileSync(new URL('src/dashboard/app.css', root), 'utf8')}`);
copyFileSync(new URL('src/dashboard/index.html', root), new URL('index.html', out));
