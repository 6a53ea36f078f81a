import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { RelayEventBus } from '../observability/events/event-bus.js';
import type { RelayClientRole, RelayEventName } from '../observability/events/relay-event.js';
import type { Logger } from '../util/logger.js';
import { rejectUpgrade } from '../websocket/server-handshake.js';
import { FailureThrottle } from './failure-throttle.js';
import { sendRelayError } from './http-errors.js';
import { LogLimiter } from './log-limiter.js';

export interface RefusalContext {
  /** What was refused, for the log line ("listener", "sender", "http request", "management request", ...). */
  what: string;
  /** Further log fields (hyco, trackingId, ...). */
  fields?: Record<string, string | number | undefined>;
  /** The event to report instead of the one the status and `what` imply (an accept timeout). */
  event?: RelayEventName;
}

/** Who was refused, as the events name it; other refusals (a bad handshake URL, a stale rendezvous) are no client's step. */
const ROLES: Record<string, RelayClientRole> = { listener: 'listener', sender: 'sender', 'http request': 'http' };

/** The event of a refusal: a SAS failure by its kind, anything else by who was refused. */
function refusalEvent(role: RelayClientRole, status: number, reason: string): RelayEventName {
  if (status === 401) return 'InvalidSasToken';
  if (status === 403 && reason.startsWith('Unauthorized')) return 'AuthorizationFailed';
  return role === 'listener' ? 'ListenerRegistrationFailed' : role === 'http' ? 'HttpRequestFailed' : 'SenderConnectionFailed';
}

/**
 * Every refusal of the relay goes through here: the answer goes out now or, for an address that
 * keeps failing, after the failure throttle's delay; the log line is rate-limited across all
 * addresses. Reasons are safe to show and to log: they never hold a token or a key. Refused
 * listeners, senders and HTTP requests are also reported as events (metrics, the event file).
 */
export class Refusals {
  readonly lines: LogLimiter;
  private readonly throttle: FailureThrottle;

  constructor(
    log: Logger,
    private readonly events?: RelayEventBus,
  ) {
    this.lines = new LogLimiter(log);
    this.throttle = new FailureThrottle(this.lines);
  }

  /** Answers a WebSocket handshake with an HTTP error. */
  upgrade(req: IncomingMessage, socket: Duplex, status: number, reason: string, context: RefusalContext, headers?: Record<string, string>): void {
    const delayMs = this.throttle.fail(req.socket.remoteAddress ?? '', () => rejectUpgrade(socket, status, reason, { headers }), this.line(req, status, reason, context));
    this.report(req, status, reason, context, delayMs);
  }

  /** Answers an HTTP request with a relay error (`{"error":{"code","message"}}`). */
  http(req: IncomingMessage, res: ServerResponse, status: number, code: string, message: string, context: RefusalContext): void {
    const delayMs = this.throttle.fail(req.socket.remoteAddress ?? '', () => sendRelayError(res, status, code, message), this.line(req, status, message, context));
    this.report(req, status, message, context, delayMs);
  }

  /** Answers with `answer` after the throttle's verdict for this address; logs nothing. */
  quietly(req: IncomingMessage, answer: () => void): void {
    this.throttle.fail(req.socket.remoteAddress ?? '', answer);
  }

  close(): void {
    this.throttle.close();
    this.lines.close();
  }

  private report(req: IncomingMessage, status: number, reason: string, context: RefusalContext, delayMs: number): void {
    const role = ROLES[context.what];
    if (!this.events || !role) return;
    this.events.emit(context.event ?? refusalEvent(role, status, reason), {
      role,
      ...context.fields,
      status,
      reason,
      remote: req.socket.remoteAddress,
      // The line above went through the rate-limited log already.
      logged: true,
      ...(delayMs > 0 ? { throttled: true } : {}),
    });
  }

  private line(req: IncomingMessage, status: number, reason: string, context: RefusalContext) {
    return { message: `${context.what} refused`, fields: { ...context.fields, status, reason, remote: req.socket.remoteAddress } };
  }
}
