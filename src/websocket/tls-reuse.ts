import { createSecureContext, type SecureContext, type TLSSocket } from 'node:tls';

/** Trust settings that shape a TLS client context (the rest of TlsClientOptions is per connection). */
export interface TlsTrust {
  ca?: string | Buffer | Array<string | Buffer>;
}

/** Most sessions remembered; one per relay host and port in practice. */
const MAX_SESSIONS = 64;

const contexts = new WeakMap<object, SecureContext>();
let defaultContext: SecureContext | undefined;
const contextIds = new WeakMap<SecureContext, number>();
let nextContextId = 1;
const sessions = new Map<string, Buffer>();

/**
 * The client context for these trust settings, built once. Node otherwise builds an OpenSSL context
 * (and its certificate store) for every connection, which costs about as much CPU as the handshake.
 * Keyed by the settings object, which a client keeps for its lifetime; without `ca`, one context
 * with the default roots (and NODE_EXTRA_CA_CERTS) serves everyone.
 */
export function clientSecureContext(trust: TlsTrust | undefined): SecureContext {
  if (trust?.ca === undefined) return (defaultContext ??= identified(createSecureContext({})));
  let context = contexts.get(trust);
  if (!context) {
    context = identified(createSecureContext({ ca: trust.ca }));
    contexts.set(trust, context);
  }
  return context;
}

function identified(context: SecureContext): SecureContext {
  contextIds.set(context, nextContextId++);
  return context;
}

/**
 * Key of the session a connection may resume: the server (host, port, name it was verified as)
 * and the context that verified it, so a session is only offered where the same trust was checked.
 */
export function sessionKey(host: string, port: number, servername: string | undefined, context: SecureContext): string {
  return `${contextIds.get(context) ?? 0}|${host}|${port}|${servername ?? ''}`;
}

/** The last session ticket the server at `key` gave us (TLS resumption skips certificate work). */
export function savedSession(key: string): Buffer | undefined {
  return sessions.get(key);
}

/** Remembers every session ticket this socket receives; the newest one is offered next time. */
export function rememberSessions(socket: TLSSocket, key: string): void {
  socket.on('session', (session: Buffer) => {
    sessions.delete(key);
    sessions.set(key, session);
    if (sessions.size > MAX_SESSIONS) sessions.delete(sessions.keys().next().value as string);
  });
}
