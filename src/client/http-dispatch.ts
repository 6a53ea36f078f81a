import { MAX_CONTROL_MESSAGE_BYTES, parseServiceCommand, type RequestCommand } from '../protocol/control-messages.js';
import { FEATURES_HEADER, LISTENER_FEATURES } from '../protocol/hybridge-extensions.js';
import { CloseCode } from '../protocol/websocket-frame.js';
import type { ProxyPolicy } from '../proxy/proxy-policy.js';
import type { WarmSockets } from '../websocket/warm-sockets.js';
import { clientConnection, openWebSocket, type TlsClientOptions } from '../websocket/client-handshake.js';
import type { WsConnection } from '../websocket/connection.js';
import { RelayedHttpRequest } from './relayed-http-request.js';
import { RelayedHttpResponse, type ResponseRoute } from './relayed-http-response.js';

export type RequestHandler = (request: RelayedHttpRequest, response: RelayedHttpResponse) => void | Promise<void>;

export interface HttpDispatchContext {
  handler: RequestHandler | undefined;
  tls: TlsClientOptions | undefined;
  proxy: ProxyPolicy;
  warm?: WarmSockets;
  rendezvousTimeoutMs: number;
  /** Sends a response and its body on the control channel as one uninterrupted pair of messages. */
  sendInline(json: string, body: Buffer | undefined): void;
  onError(error: Error): void;
  /** Inline requests in flight by id, with how to abort each (the relay's `hybridgeAbort`). */
  inlineRequests?: Map<string, () => void>;
}

async function openRendezvous(address: string, ctx: HttpDispatchContext): Promise<{ conn: WsConnection; head: Buffer }> {
  const opened = await openWebSocket(address, { timeoutMs: ctx.rendezvousTimeoutMs, tls: ctx.tls, proxy: ctx.proxy, warm: ctx.warm, headers: { [FEATURES_HEADER]: LISTENER_FEATURES } });
  // The request command is a JSON text message; request bodies are binary and streamed.
  return { conn: clientConnection(opened, { maxTextMessageBytes: MAX_CONTROL_MESSAGE_BYTES, validateUtf8: true }), head: opened.head };
}

/**
 * A request that came whole on the control channel. The returned request object takes the body
 * (the next binary message on the control channel) when `command.body` is true.
 */
export function dispatchInlineRequest(ctx: HttpDispatchContext, command: RequestCommand): RelayedHttpRequest {
  const request = new RelayedHttpRequest(command);
  let opening: Promise<WsConnection> | undefined;
  const route: ResponseRoute = {
    onRendezvous: false,
    sendInline: (json, body) => ctx.sendInline(json, body),
    rendezvous: () =>
      (opening ??= openRendezvous(command.address, ctx).then(({ conn, head }) => {
        conn.attach({ onMessageData: () => undefined, onPeerClose: () => abandon(response), onClosed: () => abandon(response) }, head);
        return conn;
      })),
  };
  if (!command.body) request.endBody();
  const response = new RelayedHttpResponse(command.id, route, request.method === 'HEAD');
  const requests = ctx.inlineRequests;
  if (requests) {
    requests.set(command.id, () => {
      if (!request.readableEnded) request.destroy(new Error('the sender went away'));
      abandon(response);
    });
    response.once('close', () => requests.delete(command.id));
  }
  invoke(ctx, request, response);
  return request;
}

/**
 * The relay closed the rendezvous (the sender went away, or the relay gave up) before the
 * response was complete: the response closes, as a ServerResponse does when its client leaves,
 * so the handler stops writing instead of writing into the void or waiting for 'drain' forever.
 */
function abandon(response: RelayedHttpResponse | undefined): void {
  if (response && !response.writableFinished && !response.destroyed) response.abandon();
}

/** The address-only form: open the rendezvous, read the full request there, answer there. */
export async function dispatchRendezvousRequest(ctx: HttpDispatchContext, command: RequestCommand): Promise<void> {
  const { conn, head } = await openRendezvous(command.address, ctx);
  let request: RelayedHttpRequest | undefined;
  let response: RelayedHttpResponse | undefined;
  const route: ResponseRoute = { onRendezvous: true, sendInline: () => undefined, rendezvous: async () => conn };
  conn.attach(
    {
      onMessageData: (chunk) => {
        if (request && !request.pushBody(chunk)) conn.pauseReading();
      },
      onMessageEnd: () => request?.endBody(),
      onText: (text) => {
        if (request) return;
        let parsed;
        try {
          parsed = parseServiceCommand(text);
        } catch (err) {
          ctx.onError(err as Error);
          conn.terminate(CloseCode.PolicyViolation, 'malformed request');
          return;
        }
        if (parsed.kind !== 'request') return;
        request = new RelayedHttpRequest(parsed.request);
        request.setResumeHandler(() => conn.resumeReading());
        if (!parsed.request.body) request.endBody();
        response = new RelayedHttpResponse(parsed.request.id, route, request.method === 'HEAD');
        invoke(ctx, request, response);
      },
      onFailed: (error) => ctx.onError(error),
      onPeerClose: () => abandon(response),
      onClosed: (_code, _reason, error) => {
        if (request && !request.readableEnded) request.destroy(error ?? new Error('the request rendezvous closed'));
        abandon(response);
      },
    },
    head,
  );
}

function invoke(ctx: HttpDispatchContext, request: RelayedHttpRequest, response: RelayedHttpResponse): void {
  const fail = (err: unknown) => {
    ctx.onError(err instanceof Error ? err : new Error(String(err)));
    if (!response.headersSent && !response.writableEnded) {
      response.statusCode = 500;
      response.statusMessage = 'The listener\'s RequestHandler threw an exception';
      response.end();
    } else {
      response.destroy(err instanceof Error ? err : undefined);
    }
  };
  response.on('error', (err) => ctx.onError(err));
  if (!ctx.handler) {
    response.statusCode = 501;
    response.statusMessage = 'RequestHandler has not been configured on the listener';
    response.end();
    request.resume();
    return;
  }
  try {
    const result = ctx.handler(request, response);
    if (result && typeof (result as Promise<void>).then === 'function') (result as Promise<void>).catch(fail);
  } catch (err) {
    fail(err);
  }
}
