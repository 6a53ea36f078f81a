import { Readable } from 'node:stream';
import type { HeaderMap, RemoteEndpointInfo, RequestCommand } from '../protocol/control-messages.js';

/**
 * An HTTP request relayed to a listener, shaped like Node's IncomingMessage: `method`, `url`
 * (the request target, including the hybrid connection name), lower-cased `headers`, and the
 * body as a stream.
 */
export class RelayedHttpRequest extends Readable {
  readonly method: string;
  readonly url: string;
  readonly headers: Record<string, string>;
  /** Header names as the sender wrote them, alternating with values (like IncomingMessage.rawHeaders). */
  readonly rawHeaders: string[];
  readonly remoteEndpoint: RemoteEndpointInfo | undefined;
  readonly requestId: string;
  /**
   * The client connection the request came on, when the relay is a hybridge relay (the same id
   * for every request of one connection; the listener's `clientConnectionClosed` event names it
   * when it closes). Undefined through Azure Relay.
   */
  readonly connectionId: string | undefined;
  private onResume: (() => void) | undefined;

  constructor(command: RequestCommand) {
    super({ highWaterMark: 64 * 1024 });
    this.method = command.method ?? 'GET';
    this.url = command.requestTarget ?? '/';
    this.requestId = command.id;
    this.remoteEndpoint = command.remoteEndpoint;
    this.connectionId = command.hybridgeConnection;
    const { headers, raw } = normalizeHeaders(command.requestHeaders);
    this.headers = headers;
    this.rawHeaders = raw;
  }

  /** Body bytes from the relay; returns false when the consumer wants the source paused. */
  pushBody(chunk: Buffer): boolean {
    return this.push(chunk);
  }

  endBody(): void {
    this.push(null);
  }

  /** Called when the consumer is ready for more after pushBody() returned false. */
  setResumeHandler(handler: () => void): void {
    this.onResume = handler;
  }

  override _read(): void {
    this.onResume?.();
  }

  /**
   * As Node's IncomingMessage does: a request cut off mid-body emits 'error' only when someone
   * listens for it, so a handler that ignores the body cannot crash the process with it.
   */
  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    callback(this.listenerCount('error') > 0 ? error : null);
  }
}

function normalizeHeaders(map: HeaderMap | undefined): { headers: Record<string, string>; raw: string[] } {
  const headers: Record<string, string> = {};
  const raw: string[] = [];
  for (const [name, value] of Object.entries(map ?? {})) {
    const text = Array.isArray(value) ? value.join(', ') : value;
    const key = name.toLowerCase();
    headers[key] = headers[key] === undefined ? text : `${headers[key]}, ${text}`;
    raw.push(name, text);
  }
  return { headers, raw };
}
