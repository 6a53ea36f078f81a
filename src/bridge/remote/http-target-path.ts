/**
 * The path and query to request from an -H target: the relayed request target minus the leading
 * `/relayName`, appended to the target's base path (`/` or `/seg/.../`), or undefined (answered 400)
 * when the request would leave the base path. `sb-hc-*` query parameters (the relay's token, for
 * one) are not passed on.
 *
 * The decision is made on the decoded path, segment by segment, because targets decode before they
 * resolve (python's http.server turns `/sub/..%2fsecret` into `/secret`): a segment that decodes to
 * a slash, a backslash or NUL (`%2f`, `%5c`, `%00`), a raw backslash, a malformed escape, or a dot
 * segment with parameters (`..;x`, which Java servers read as `..`) is refused; `.` and `..` (also
 * `%2e%2e`) are resolved within the part after the base path, and a `..` that would climb out of it
 * is refused. The segments that remain go out as the client wrote them, percent-encoding only what a
 * request line cannot carry.
 */
export function targetPath(requestTarget: string, relayName: string, basePath: string): string | undefined {
  const queryAt = requestTarget.indexOf('?');
  const rawPath = queryAt < 0 ? requestTarget : requestTarget.slice(0, queryAt);
  const rawQuery = queryAt < 0 ? '' : requestTarget.slice(queryAt + 1);
  if (rawPath.includes('\\')) return undefined;
  const raw = rawPath.split('/');
  const decoded: string[] = [];
  for (const segment of raw) {
    const text = decodeSegment(segment);
    if (text === undefined || /[/\\\0]/.test(text)) return undefined;
    decoded.push(text);
  }
  let next = afterRelayName(decoded, relayName);
  while (next < raw.length && decoded[next] === '') next++;
  const kept: string[] = [];
  let endsInDirectory = false;
  for (; next < raw.length; next++) {
    const text = decoded[next]!;
    endsInDirectory = text === '.' || text === '..';
    if (text === '.') continue;
    if (text === '..') {
      if (kept.length === 0) return undefined;
      kept.pop();
      continue;
    }
    if (/^\.\.?;/.test(text)) return undefined;
    kept.push(requestLineSafe(raw[next]!));
  }
  if (endsInDirectory) kept.push('');
  const query = rawQuery
    .split('&')
    .filter((p) => p && !/^sb-hc-/i.test(p))
    .join('&');
  return `${basePath}${kept.join('/')}${query ? `?${requestLineSafe(query)}` : ''}`;
}

/** The index of the first decoded segment after `/relayName` (case-insensitive), or 1 when the path does not start with it. */
function afterRelayName(decoded: readonly string[], relayName: string): number {
  const name = relayName.split('/').filter((s) => s.length > 0);
  for (let i = 0; i < name.length; i++) {
    if (decoded[i + 1]?.toLowerCase() !== name[i]!.toLowerCase()) return 1;
  }
  return 1 + name.length;
}

function decodeSegment(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}

/** Percent-encodes the characters Node refuses in a request path (and '#', which would end it). */
function requestLineSafe(text: string): string {
  return text.replace(/[^\x21-\x7e]|#/gu, (ch) => [...Buffer.from(ch, 'utf8')].map((b) => `%${b.toString(16).toUpperCase().padStart(2, '0')}`).join(''));
}
