import { ValueError } from './config-error.js';

/** A path segment as RFC 3986 writes it: unreserved and sub-delimiter characters, '@', and %XX escapes. */
const SEGMENT = /^(?:[A-Za-z0-9\-._~!$&'()*+,;=@]|%[0-9A-Fa-f]{2})+$/;

/**
 * An -H target's base path from its segments (`-H r:http/host/seg1/seg2`, YAML `Path`): `/` without
 * segments, else `/seg1/seg2/`; empty segments are dropped. Request paths are confined below it
 * (http-target-path.ts), so it must name a directory plainly: no dot segments (also `%2e%2e`), no
 * encoded slash or backslash, and only characters a request line carries.
 */
export function httpBasePath(segments: readonly string[]): string {
  const kept = segments.filter((s) => s.length > 0);
  for (const segment of kept) {
    if (!SEGMENT.test(segment)) throw new ValueError(`path segment "${segment}" holds characters a URL path cannot carry; percent-encode them`);
    const decoded = decodeSegment(segment);
    if (decoded === '.' || decoded === '..') throw new ValueError(`path segment "${segment}" is a dot segment; write the base path without "." and ".."`);
    if (/[/\\\0]/.test(decoded)) throw new ValueError(`path segment "${segment}" encodes a slash, backslash or NUL`);
  }
  return kept.length === 0 ? '/' : `/${kept.join('/')}/`;
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new ValueError(`path segment "${segment}" is not percent-encoded UTF-8`);
  }
}
