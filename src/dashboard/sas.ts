import { dotnetUrlEncode } from '../protocol/url-encoding.js';

/** What the page keeps after sign-in: a short-lived token, never the key it was made with. */
export interface Session {
  /** `SharedAccessSignature sr=..&sig=..&se=..&skn=..` */
  token: string;
  /** Unix seconds. */
  expiresAt: number;
  /** The rule the token was signed with (for the header). */
  rule: string;
}

export class SignInError extends Error {}

/** The tokens the page signs live this long; then the user signs in again. */
export const TOKEN_LIFETIME_SECONDS = 3600;

/**
 * A Manage connection string (its key is used here, in the page, and forgotten) or a SAS token (used
 * as it is). The token's audience is this relay's namespace, as the .NET SDK builds it.
 */
export async function signIn(input: string, host: string, now = Date.now()): Promise<Session> {
  const text = input.trim();
  if (/^SharedAccessSignature\s/i.test(text)) return fromToken(text);
  const fields = parseConnectionString(text);
  if (fields.sharedaccesssignature) return fromToken(fields.sharedaccesssignature);
  const keyName = fields.sharedaccesskeyname;
  const key = fields.sharedaccesskey;
  if (!keyName || !key) throw new SignInError('Paste a connection string with SharedAccessKeyName and SharedAccessKey (a rule with Manage rights), or a SAS token.');
  if (fields.entitypath) throw new SignInError('This connection string is for one hybrid connection (EntityPath); the dashboard needs a namespace-level Manage rule.');
  const expiresAt = Math.floor(now / 1000) + TOKEN_LIFETIME_SECONDS;
  const sr = dotnetUrlEncode(`http://${host.toLowerCase()}/`);
  const signature = await hmacSha256Base64(key, `${sr}\n${expiresAt}`);
  return { token: `SharedAccessSignature sr=${sr}&sig=${dotnetUrlEncode(signature)}&se=${expiresAt}&skn=${dotnetUrlEncode(keyName)}`, expiresAt, rule: keyName };
}

function fromToken(token: string): Session {
  const body = token.replace(/^SharedAccessSignature\s+/i, '');
  const params = new URLSearchParams(body);
  const expiresAt = Number(params.get('se'));
  const rule = params.get('skn');
  if (!params.get('sig') || !rule || !Number.isFinite(expiresAt)) throw new SignInError('That SAS token is missing sig, se or skn.');
  if (expiresAt * 1000 <= Date.now()) throw new SignInError('That SAS token has expired.');
  return { token: `SharedAccessSignature ${body}`, expiresAt, rule };
}

/** `Key=value;...` with case-insensitive keys; values may contain '='. */
function parseConnectionString(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of text.split(';')) {
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    out[part.slice(0, eq).trim().toLowerCase()] = part.slice(eq + 1).trim();
  }
  if (!out.endpoint && !out.sharedaccesssignature) throw new SignInError('That is neither a connection string (Endpoint=...;SharedAccessKeyName=...;SharedAccessKey=...) nor a SAS token.');
  return out;
}

/** HMAC-SHA256 keyed with the UTF-8 bytes of the key string (not base64-decoded), as Azure signs. */
async function hmacSha256Base64(key: string, text: string): Promise<string> {
  const encoder = new TextEncoder();
  const cryptoKey = await crypto.subtle.importKey('raw', encoder.encode(key), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  const signature = new Uint8Array(await crypto.subtle.sign('HMAC', cryptoKey, encoder.encode(text)));
  let binary = '';
  for (const byte of signature) binary += String.fromCharCode(byte);
  return btoa(binary);
}

const STORE_KEY = 'hybridge.dashboard.session';

/** The session lives in sessionStorage (this tab, until it closes) so a reload keeps it; only the token. */
export function saveSession(session: Session | undefined): void {
  if (session) sessionStorage.setItem(STORE_KEY, JSON.stringify(session));
  else sessionStorage.removeItem(STORE_KEY);
}

export function loadSession(): Session | undefined {
  try {
    const session = JSON.parse(sessionStorage.getItem(STORE_KEY) ?? 'null') as Session | null;
    return session && session.expiresAt * 1000 > Date.now() ? session : undefined;
  } catch {
    return undefined;
  }
}
