/**
 * URL encoding exactly as .NET's WebUtility.UrlEncode does it: unreserved characters are
 * A-Z a-z 0-9 - _ . ! * ( ), a space becomes '+', everything else is %XX with upper-case hex
 * over the UTF-8 bytes. SAS tokens built this way match the .NET SDK byte for byte. (No Node API
 * here: the dashboard page signs its tokens with this too.)
 */
export function dotnetUrlEncode(value: string): string {
  let out = '';
  for (const byte of new TextEncoder().encode(value)) {
    const ch = String.fromCharCode(byte);
    if (/[A-Za-z0-9\-_.!*()]/.test(ch)) out += ch;
    else if (byte === 0x20) out += '+';
    else out += '%' + byte.toString(16).toUpperCase().padStart(2, '0');
  }
  return out;
}

/** Decodes %XX escapes and '+' (as a space), tolerating malformed escapes by returning undefined. */
export function formUrlDecode(value: string): string | undefined {
  try {
    return decodeURIComponent(value.replace(/\+/g, ' '));
  } catch {
    return undefined;
  }
}
