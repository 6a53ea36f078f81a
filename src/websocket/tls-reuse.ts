import { createSecureContext, type SecureContext, type TLSSocket } from 'node:tls';
import { setNewest } from '../util/bounded-map.js';

/** Trust settings that shape a TLS client context (the rest of TlsClientOptions is per connection). */
export interface TlsTrust {
  ca?: string | Buffer | Array<string | Buffer>;
}

/** Most sessions remembered per context; one per relay host and port in practice. */
const MAX_SESSIONS = 64;

const contexts = new WeakMap<object, SecureContext>();
let defaultContext: SecureContext | undefined;
/** Sessions by the context that verified the server, so one is only offered where the same trust was checked. */
const sessionsByContext = new WeakMap<SecureContext, Map<string, Buffer>>();

/**
 * The client context for these trust settings, built once. Node otherwise builds an OpenSSL context
 * (and its certificate store) for every connection, which costs about as much CPU as the handshake.
 * Keyed by the settings object, which a client keeps for its lifetime; without `ca`, one context
 * with the default roots (and NODE_EXTRA_CA_CERTS) serves everyone.
 */
export function clientSecureContext(trust: TlsTrust | undefined): SecureContext {
  if (trust?.ca === undefined) return (defaultContext ??= createSecureContext({}));
  let context = contexts.get(trust);
  if (!context) {
    context = createSecureContext({ ca: trust.ca });
    contexts.set(trust, context);
  }
  return context;
}

export interface TlsResumption {
  /** The last session ticket this server gave us (resuming skips the certificate work). */
  session: Buffer | undefined;
  /** Remembers every ticket the socket receives; the newest one is offered next time. */
  remember(socket: TLSSocket): void;
}

/** Resumption for a connection to one server (host, port, the name it is verified as) through `context`. */
export function tlsResumption(context: SecureContext, host: string, port: number, servername: string | undefined): TlsResumption {
  let sessions = sessionsByContext.get(context);
  if (!sessions) {
    sessions = new Map();
    sessionsByContext.set(context, sessions);
  }
  const known = sessions;
  const key = `${host}|${port}|${servername ?? ''}`;
  return {
    session: known.get(key),
    remember: (socket) =>
      socket.on('session', (session: Buffer) => setNewest(known, key, session, MAX_SESSIONS)),
  };
}
