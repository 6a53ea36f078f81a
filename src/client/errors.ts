/** Base class of errors from the Hybrid Connections client. */
export class RelayError extends Error {
  constructor(
    message: string,
    /** Worth retrying (no listener yet, relay busy, timeout). */
    readonly transient = false,
  ) {
    super(message);
    this.name = 'RelayError';
  }
}

/** The relay or the listener answered a handshake with an HTTP status instead of 101. */
export class RelayHandshakeError extends RelayError {
  constructor(
    readonly statusCode: number,
    readonly statusDescription: string,
    message: string,
    transient: boolean,
  ) {
    super(message, transient);
    this.name = 'RelayHandshakeError';
  }
}

/** 401/403: the token is missing, malformed, expired, for another path, or lacks the right. */
export class AuthorizationFailedError extends RelayHandshakeError {
  constructor(statusCode: number, statusDescription: string, what: string) {
    super(statusCode, statusDescription, `${what}: authorization failed (${statusCode} ${statusDescription})`, false);
    this.name = 'AuthorizationFailedError';
  }
}

/** 404: the hybrid connection does not exist (for a listener), or nobody listens (for a sender). */
export class EndpointNotFoundError extends RelayHandshakeError {
  constructor(statusCode: number, statusDescription: string, what: string, transient: boolean) {
    super(statusCode, statusDescription, `${what}: ${statusDescription || 'endpoint not found'} (${statusCode})`, transient);
    this.name = 'EndpointNotFoundError';
  }
}

export class RelayTimeoutError extends RelayError {
  constructor(message: string) {
    super(message, true);
    this.name = 'RelayTimeoutError';
  }
}

/** A relayed connection ended without a clean close (peer vanished, relay error). */
export class ConnectionLostError extends RelayError {
  constructor(
    readonly closeCode: number,
    readonly closeReason: string,
  ) {
    super(`relayed connection lost (close code ${closeCode}${closeReason ? `: ${closeReason}` : ''})`, false);
    this.name = 'ConnectionLostError';
  }
}

/** A message that readMessage() was to return is larger than the limit it was given; the connection is closed with 1009. */
export class MessageTooLargeError extends RelayError {
  constructor(readonly limit: number) {
    super(`message larger than ${limit} bytes`, false);
    this.name = 'MessageTooLargeError';
  }
}

/** Removes sb-hc-token values from URLs so errors and logs never show a token. */
export function redactUrl(url: string): string {
  return url.replace(/(sb-hc-token=)[^&]*/gi, '$1REDACTED');
}
