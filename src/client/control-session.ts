import { encodeCommand, parseServiceCommand, type AcceptCommand, type RequestCommand } from '../protocol/control-messages.js';
import { CloseCode } from '../protocol/websocket-frame.js';
import { clientConnection, openWebSocket, type RelayTransport } from '../websocket/client-handshake.js';
import type { WsConnection } from '../websocket/connection.js';

export interface ControlSessionHandlers {
  onAccept(command: AcceptCommand): void;
  /** Returns a sink for the body when the request carries one inline. */
  onRequest(command: RequestCommand): { pushBody(chunk: Buffer): boolean; endBody(): void } | undefined;
  onProtocolError(error: Error): void;
}

export interface ControlSessionEnd {
  code: number;
  reason: string;
  error?: Error;
}

/** Service messages are far smaller; anything this big is a broken relay. */
const MAX_SERVICE_MESSAGE = 1024 * 1024;

/**
 * One connected control channel (`sb-hc-action=listen`): reads `accept` and `request` commands,
 * sends responses and `renewToken`, and pings to notice a dead path.
 */
export class ControlSession {
  readonly ended: Promise<ControlSessionEnd>;
  private body: { pushBody(chunk: Buffer): boolean; endBody(): void } | undefined;
  private resolveEnded!: (end: ControlSessionEnd) => void;

  private constructor(
    readonly conn: WsConnection,
    private readonly handlers: ControlSessionHandlers,
    head: Buffer,
  ) {
    this.ended = new Promise((resolve) => (this.resolveEnded = resolve));
    conn.attach(
      {
        onMessageStart: () => {
          if (!this.body) this.handlers.onProtocolError(new Error('binary message on the control channel without a request body'));
        },
        onMessageData: (chunk) => this.body?.pushBody(chunk),
        onMessageEnd: () => {
          this.body?.endBody();
          this.body = undefined;
        },
        onText: (text) => this.command(text),
        onFailed: (error) => this.handlers.onProtocolError(error),
        onClosed: (code, reason, error) => {
          this.body?.endBody();
          this.body = undefined;
          this.resolveEnded({ code, reason, error });
        },
      },
      head,
    );
  }

  static async open(url: string, headers: Record<string, string>, transport: RelayTransport, timeoutMs: number, handlers: ControlSessionHandlers): Promise<ControlSession> {
    const opened = await openWebSocket(url, { headers, tls: transport.tls, proxy: transport.proxy, timeoutMs });
    const conn = clientConnection(opened, { autoCloseReply: true, maxMessageBytes: MAX_SERVICE_MESSAGE, validateUtf8: true });
    // Responses to many requests share this channel.
    conn.coalesceWrites();
    return new ControlSession(conn, handlers, opened.head);
  }

  /** A response and its body, back to back so no other message can come between them. */
  sendResponse(json: string, body: Buffer | undefined): void {
    this.conn.sendText(json);
    if (body) this.conn.sendBinary(body);
  }

  renewToken(token: string): void {
    this.conn.sendText(encodeCommand('renewToken', { token }));
  }

  keepAlive(intervalMs: number, timeoutMs: number): void {
    if (intervalMs > 0) this.conn.startKeepAlive(intervalMs, timeoutMs, () => this.conn.destroy(new Error(`no answer to pings for ${timeoutMs} ms`)));
  }

  close(): void {
    this.conn.close(CloseCode.Normal, 'Normal Closure');
    const timer = setTimeout(() => this.conn.destroy(), 5000);
    timer.unref();
  }

  destroy(): void {
    this.conn.destroy();
  }

  private command(text: string): void {
    let command;
    try {
      command = parseServiceCommand(text);
    } catch (err) {
      this.handlers.onProtocolError(err as Error);
      return;
    }
    if (command.kind === 'accept') this.handlers.onAccept(command.accept);
    else if (command.kind === 'request') {
      const sink = this.handlers.onRequest(command.request);
      if (command.request.body && command.request.method !== undefined) this.body = sink;
    }
  }
}
