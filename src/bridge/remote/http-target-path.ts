/**
 * The path and query to request from an -H target: the relayed request target minus the leading
 * `/relayName`, appended to the target's base path (`/` or `/seg/.../`). Dot segments are resolved
 * first, and a path that would leave the base path is refused (undefined). `sb-hc-*` query
 * parameters (the relay's token, for one) are not passed on.
 */
export function targetPath(requestTarget: string, relayName: string, basePath: string): string | undefined {
  const [rawPath = '/', ...queryParts] = requestTarget.split('?');
  let rest = rawPath;
  const prefix = `/${relayName}`.toLowerCase();
  const lower = rest.toLowerCase();
  if (lower === prefix || lower.startsWith(`${prefix}/`)) rest = rest.slice(prefix.length);
  rest = rest.replace(/^\/+/, '');
  let resolved: URL;
  try {
    resolved = new URL(`http://target${basePath}${rest}`);
  } catch {
    return undefined;
  }
  if (!resolved.pathname.startsWith(basePath) && `${resolved.pathname}/` !== basePath) return undefined;
  const query = queryParts
    .join('?')
    .split('&')
    .filter((p) => p && !/^sb-hc-/i.test(p))
    .join('&');
  return `${resolved.pathname}${query ? `?${query}` : ''}`;
}
