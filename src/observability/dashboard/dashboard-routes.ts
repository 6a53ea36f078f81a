import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { isSingleExecutable } from '../../util/self-command.js';

export const DASHBOARD_PATH = '/$hybridge/dashboard';

/**
 * Nothing but this relay: scripts, styles and API calls from the relay's own origin, no inline code,
 * no frames, no forms posting elsewhere. The sign-in key never leaves the page (it is turned into a
 * short-lived SAS token with WebCrypto), so the only secret on the wire is that token, in a header.
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  "img-src 'self' data:",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const FILES: Record<string, { file: string; type: string }> = {
  [DASHBOARD_PATH]: { file: 'index.html', type: 'text/html; charset=utf-8' },
  [`${DASHBOARD_PATH}/app.js`]: { file: 'app.js', type: 'text/javascript; charset=utf-8' },
  [`${DASHBOARD_PATH}/app.css`]: { file: 'app.css', type: 'text/css; charset=utf-8' },
};

/** The page's files, built by scripts/build-dashboard.mjs next to the compiled server (dist/src/dashboard/). */
const STATIC_DIR = new URL('../../dashboard/', import.meta.url);
/** In the single executable the files are its assets (scripts/build-sea.mjs), under these keys. */
export const SEA_ASSET_PREFIX = 'dashboard/';

export class DashboardFilesMissingError extends Error {
  constructor(dir: string) {
    super(`the dashboard's files are not in ${dir}; build them with npm run build`);
    this.name = 'DashboardFilesMissingError';
  }
}

/**
 * `--dashboard`: serves the page at /$hybridge/dashboard from the files shipped in the package (read
 * once, at start: a missing build is one line then, not a 404 later). The page talks to the
 * management and status APIs with its token; these routes themselves need none (they hold no data).
 */
export function dashboardRoutes(dir?: URL): (req: IncomingMessage, res: ServerResponse, url: string) => boolean {
  const read = dir === undefined && isSingleExecutable() ? assetReader() : (file: string) => readFileSync(new URL(file, dir ?? STATIC_DIR));
  const bodies = new Map<string, { body: Buffer; type: string }>();
  for (const [path, { file, type }] of Object.entries(FILES)) {
    try {
      bodies.set(path, { body: read(file), type });
    } catch {
      throw new DashboardFilesMissingError(dir === undefined && isSingleExecutable() ? 'this executable' : (dir ?? STATIC_DIR).pathname);
    }
  }
  return (req, res, url) => {
    const path = url.split('?')[0]!.replace(/\/$/, '');
    if (path !== DASHBOARD_PATH && !path.startsWith(`${DASHBOARD_PATH}/`)) return false;
    const found = bodies.get(path);
    const headers = {
      'Content-Security-Policy': CONTENT_SECURITY_POLICY,
      'X-Content-Type-Options': 'nosniff',
      'X-Frame-Options': 'DENY',
      'Referrer-Policy': 'no-referrer',
      'Cache-Control': 'no-store',
      'Cross-Origin-Opener-Policy': 'same-origin',
    };
    if (!found) return res.writeHead(404, { ...headers, 'Content-Type': 'text/plain; charset=utf-8' }).end('not found\n'), true;
    if (req.method !== 'GET' && req.method !== 'HEAD') return res.writeHead(405, { ...headers, Allow: 'GET, HEAD' }).end(), true;
    res.writeHead(200, { ...headers, 'Content-Type': found.type, 'Content-Length': found.body.length });
    res.end(req.method === 'HEAD' ? undefined : found.body);
    return true;
  };
}

/** Reads a file from the single executable's assets (node:sea exists in Node 20.12 and later). */
function assetReader(): (file: string) => Buffer {
  const sea = createRequire(import.meta.url)('node:sea') as { getAsset(key: string): ArrayBuffer };
  return (file) => Buffer.from(sea.getAsset(`${SEA_ASSET_PREFIX}${file}`));
}
