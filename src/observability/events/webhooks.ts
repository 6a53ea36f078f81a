import { outboundRequest } from '../../proxy/outbound-request.js';
import { ProxyPolicy } from '../../proxy/proxy-policy.js';
import type { Logger } from '../../util/logger.js';
import type { RelayEventSink } from './event-bus.js';
import { WEBHOOK_EVENTS, type RelayEvent } from './relay-event.js';
import { clearTimer } from '../../util/clear-timer.js';

/** A webhook's answer body is not used; a larger one is a failed delivery. */
const MAX_ANSWER_BYTES = 1024 * 1024;

export class WebhookUrlError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WebhookUrlError';
  }
}

/** `--webhook URL`: http or https, no credentials in the URL shown in logs. */
export function parseWebhookUrl(text: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new WebhookUrlError(`--webhook "${redact(text)}" is not a URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new WebhookUrlError(`--webhook must be an http:// or https:// URL, not ${url.protocol}`);
  return url;
}

/** The URL without user info, query or fragment, for log lines. */
export function redactUrl(url: URL): string {
  return `${url.protocol}//${url.host}${url.pathname}`;
}

function redact(text: string): string {
  return text.replace(/\/\/[^@/]*@/, '//***@').replace(/[?#].*$/, '');
}

export interface WebhookOptions {
  log: Logger;
  /** Events waiting per webhook; when full, the oldest is dropped (and counted). Default 1000. */
  maxQueue?: number;
  /** Tries per event (default 5), with back-off between them. */
  attempts?: number;
  /** Back-off before each retry, in ms (default 1, 2, 4, 8 s). */
  backoffMs?: readonly number[];
  /** One POST may take this long (default 5 s). */
  timeoutMs?: number;
  /** The proxy deliveries go through (default: none). */
  proxy?: ProxyPolicy;
  onDelivered?(): void;
  onFailed?(): void;
  onDropped?(): void;
}

/**
 * POSTs listener online/offline and key-change events to one URL as JSON, one at a time and in
 * order, retrying with back-off. The relay never waits for it: events are queued (bounded; the
 * oldest is dropped when full) and delivered in the background.
 */
export class Webhook {
  private readonly queue: RelayEvent[] = [];
  private sending = false;
  private closed = false;
  private timer: NodeJS.Timeout | undefined;
  private readonly maxQueue: number;
  private readonly attempts: number;
  private readonly backoffMs: readonly number[];
  private readonly timeoutMs: number;

  constructor(
    readonly url: URL,
    private readonly options: WebhookOptions,
  ) {
    this.maxQueue = options.maxQueue ?? 1000;
    this.attempts = options.attempts ?? 5;
    this.backoffMs = options.backoffMs ?? [1000, 2000, 4000, 8000];
    this.timeoutMs = options.timeoutMs ?? 5000;
  }

  readonly sink: RelayEventSink = (event) => {
    if (this.closed || !WEBHOOK_EVENTS.has(event.event)) return;
    if (this.queue.length >= this.maxQueue) {
      this.queue.shift();
      this.options.onDropped?.();
    }
    const { quiet: _quiet, logged: _logged, ...record } = event;
    this.queue.push(record as RelayEvent);
    if (!this.sending) void this.drain();
  };

  /** Events waiting (the one being delivered not included). */
  get queued(): number {
    return this.queue.length;
  }

  close(): void {
    this.closed = true;
    clearTimer(this.timer);
    this.queue.length = 0;
  }

  private async drain(): Promise<void> {
    this.sending = true;
    while (!this.closed && this.queue.length > 0) {
      const event = this.queue.shift()!;
      const delivered = await this.deliver(event);
      if (delivered) this.options.onDelivered?.();
      else {
        this.options.onFailed?.();
        this.options.log.warn({ webhook: redactUrl(this.url), event: event.event, attempts: this.attempts }, 'webhook delivery failed; event given up');
      }
    }
    this.sending = false;
  }

  private async deliver(event: RelayEvent): Promise<boolean> {
    const body = JSON.stringify(event);
    for (let attempt = 1; attempt <= this.attempts && !this.closed; attempt++) {
      try {
        const response = await outboundRequest(this.url, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json', 'User-Agent': 'hybridge-relay' },
          body,
          timeoutMs: this.timeoutMs,
          maxBytes: MAX_ANSWER_BYTES,
          policy: this.options.proxy ?? ProxyPolicy.DIRECT,
        });
        if (response.status >= 200 && response.status < 300) return true;
        // A client error will not change with a retry, except being rate limited.
        if (response.status >= 400 && response.status < 500 && response.status !== 429 && response.status !== 408) return false;
      } catch {
        // unreachable, timed out: retry
      }
      if (attempt < this.attempts) await this.pause(this.backoffMs[Math.min(attempt - 1, this.backoffMs.length - 1)]!);
    }
    return false;
  }

  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.timer = setTimeout(resolve, ms);
      this.timer.unref();
    });
  }
}
