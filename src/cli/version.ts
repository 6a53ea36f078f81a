import { readFileSync } from 'node:fs';

/** Set by the single-executable build (scripts/build-sea.mjs), which has no package.json beside it. */
declare const __HYBRIDGE_VERSION__: string | undefined;

export function readPackageVersion(): string {
  if (typeof __HYBRIDGE_VERSION__ === 'string') return __HYBRIDGE_VERSION__;
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version?: string };
    return pkg.version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}
