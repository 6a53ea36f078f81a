import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { RelayEventBus } from '../observability/events/event-bus.js';
import type { RelayClientRole, RelayEventName } from '../observability/events/relay-event.js';
import type { Logger } from '../util/logger.js';
import { rejectUpgrade } from '../websocket/server-handshake.js';
import type { ClientAddresses } from './client-address.js';
import { FailureThrottle } from './failure-throttle.js';
import type { AddressDecision } from './ip-rules.js';
import { sendRelayError } from './http-errors.js';
import { LogLimiter } from './log-limiter.js';
import { systemTracker, trackableReason, trackingIdOf } from './tracking-id.js';

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
 * addresses. Reasons are safe to show and to log: they never hold a token or a key. The address
 * throttled and logged is the client's (ClientAddresses), not a load balancer's. Refused
 * listeners, senders and HTTP requests are also reported as events (metrics, the event file).
 */
export class Refusals {
  readonly lines: LogLimiter;
  private readonly throttle: FailureThrottle;

  constructor(
    log: Logger,
    private readonly clients: ClientAddresses,
    private readonly events?: RelayEventBus,
  ) {
    this.lines = new LogLimiter(log);
    this.throttle = new FailureThrottle(this.lines);
  }

  /** Answers a WebSocket handshake with an HTTP error. */
  upgrade(req: IncomingMessage, socket: Duplex, status: number, reason: string, context: RefusalContext, headers?: Record<string, string>): void {
    const { text, line } = this.tracked(req, status, reason, context);
    const delayMs = this.throttle.fail(this.clients.clientAddressOf(req).address, () => rejectUpgrade(socket, status, text, { headers }), line);
    this.report(req, status, reason, context, delayMs);
  }

  /** Answers an HTTP request with a relay error (`{"error":{"code","message"}}`). */
  http(req: IncomingMessage, res: ServerResponse, status: number, code: string, message: string, context: RefusalContext): void {
    const { text, line } = this.tracked(req, status, message, context);
    const delayMs = this.throttle.fail(this.clients.clientAddressOf(req).address, () => sendRelayError(res, status, code, text), line);
    this.report(req, status, message, context, delayMs);
  }

  /**
   * A client the namespace's IP rules refuse, before any authentication work: logged with the rule
   * that decided (1-based position, or 'default') and answered at once, outside the failure
   * throttle: it did not fail to authenticate, and a client allowed later starts with a clean record.
   */
  byAddress(req: IncomingMessage, decision: AddressDecision, what: string, answer: () => void): void {
    this.lines.info({ what, remote: this.clients.clientAddressOf(req).address, ipRule: decision.rule }, 'client refused by the IP rules');
    answer();
  }

  /** Answers with `answer(description)`, the reason carrying a TrackingId as Azure's do; logs the refusal. */
  custom(req: IncomingMessage, status: number, reason: string, context: RefusalContext, answer: (description: string) => void): void {
    const { text, line } = this.tracked(req, status, reason, context);
    const delayMs = this.throttle.fail(this.clients.clientAddressOf(req).address, () => answer(text), line);
    this.report(req, status, reason, context, delayMs);
  }

  /** Answers with `answer` after the throttle's verdict for this address; logs nothing. */
  quietly(req: IncomingMessage, answer: () => void): void {
    this.throttle.fail(this.clients.clientAddressOf(req).address, answer);
  }

  close(): void {
    this.throttle.close();
    this.lines.close();
  }

  /**
   * The description the client gets (with the TrackingId the SDKs look for, see tracking-id.ts)
   * and the log line, which names the same id.
   */
  private tracked(req: IncomingMessage, status: number, reason: string, context: RefusalContext) {
    const existing = context.fields?.trackingId;
    const trackingId = typeof existing === 'string' ? existing : trackingIdOf(req);
    const hyco = context.fields?.hyco;
    const text = trackableReason(reason, trackingId, systemTracker(req, typeof hyco === 'string' ? hyco : undefined));
    const line = { message: `${context.what} refused`, fields: { ...context.fields, trackingId, status, reason, remote: this.clients.clientAddressOf(req).address } };
    return { text, line };
  }

  private report(req: IncomingMessage, status: number, reason: string, context: RefusalContext, delayMs: number): void {
    const role = ROLES[context.what];
    if (!this.events || !role) return;
    this.events.emit(context.event ?? refusalEvent(role, status, reason), {
      role,
      ...context.fields,
      status,
      reason,
      remote: this.clients.clientAddressOf(req).address,
      // The line above went through the rate-limited log already.
      logged: true,
      ...(delayMs > 0 ? { throttled: true } : {}),
    });
  }
}
