import { request as httpRequest, type Agent, type ClientRequest, type IncomingMessage, type RequestOptions } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { RelayedHttpRequest, RelayedHttpResponse, RequestHandler } from '../../client/index.js';
import { classifyDialError, ConnectTimeoutError } from '../../forwarding/dial-errors.js';
import type { Logger } from '../../util/logger.js';
import type { HttpRemoteBinding } from '../config/index.js';
import type { ConnectionLifecycle } from '../../forwarding/lifecycle/connection-lifecycle.js';
import type { ConnectionEnd } from '../../forwarding/lifecycle/connection-fields.js';
import { outboundBinding, type OutboundOptions } from '../outbound-address.js';
import type { AffinityAgents } from './http-affinity.js';
import { relayResponseHeaders, targetRequestHeaders } from './http-headers.js';
import { targetPath } from './http-target-path.js';
import { clearTimer } from '../../util/clear-timer.js';

export interface HttpProxyOptions extends OutboundOptions {
  relayName: string;
  log: Logger;
  lifecycle: ConnectionLifecycle;
  /** Set when the relay's Http bindings keep one target connection per client connection (ConnectionAffinity). */
  affinity?: AffinityAgents;
}

/**
 * -H: HTTP requests that arrive at the relay go to `scheme://host:port/path/` plus the part of the
 * request path after the relay name (reference/azbridge.md §3.5), bodies streamed both ways.
 * Several targets on one relay take turns. Redirects are passed back, not followed. A relay without
 * -H targets answers 501 instead of azbridge's 500.
 */
export function createHttpRequestHandler(bindings: readonly HttpRemoteBinding[], options: HttpProxyOptions): RequestHandler {
  if (bindings.length === 0) {
    return (req, res) => {
      const text = `relay ${options.relayName} forwards TCP, UDP or Unix-socket connections (-T), not HTTP requests; add an -H forwarder to serve HTTP`;
      options.log.warn({ hyco: options.relayName, method: req.method, status: 501 }, 'HTTP request refused: no -H forwarder on this relay');
      req.resume();
      sendText(res, 501, 'this relay forwards TCP, not HTTP', text);
    };
  }
  let turn = 0;
  const nextBinding = () => {
    const binding = bindings[turn]!;
    turn = (turn + 1) % bindings.length;
    return binding;
  };
  let warned = false;
  return (req, res) => {
    const affinity = options.affinity;
    if (!affinity) return forward(req, res, nextBinding(), options);
    if (req.connectionId === undefined) {
      if (!warned) options.log.warn({ relay: options.relayName }, 'connection affinity needs a hybridge relay (it says which client connection a request came on); requests go over shared target connections');
      warned = true;
      return forward(req, res, nextBinding(), options);
    }
    const pinned = affinity.agentFor(req.connectionId, nextBinding);
    forward(req, res, pinned.binding, options, pinned.agent);
  };
}

function forward(req: RelayedHttpRequest, res: RelayedHttpResponse, target: HttpRemoteBinding, options: HttpProxyOptions, agent?: Agent): void {
  const path = targetPath(req.url, options.relayName, target.path);
  const origin = `${target.scheme}://${target.host.includes(':') ? `[${target.host}]` : target.host}:${target.port}`;
  if (path === undefined) {
    req.resume();
    sendText(res, 400, 'Bad Request', `the request path leaves the target's base path ${target.path}`);
    return;
  }
  const connection = options.lifecycle.open({
    role: 'listener',
    kind: 'http',
    fields: { hyco: options.relayName, method: req.method, path, target: origin },
    abort: () => {
      upstream.destroy();
      res.destroy();
    },
  });
  const { localAddress, family } = outboundBinding(options);
  const requestOptions: RequestOptions & { rejectUnauthorized?: boolean; servername?: string } = {
    method: req.method,
    host: target.host,
    port: target.port,
    path,
    headers: targetRequestHeaders(req.rawHeaders),
    localAddress,
    family: family === 0 ? undefined : family,
    ...(agent && { agent }),
  };
  if (target.scheme === 'https') requestOptions.rejectUnauthorized = !target.insecure;
  const upstream: ClientRequest = (target.scheme === 'https' ? httpsRequest : httpRequest)(requestOptions);
  let answered = false;
  let finished = false;
  const finish = (status: number | string, error?: string) => {
    if (finished) return;
    finished = true;
    const end: ConnectionEnd = typeof status !== 'number' ? 'relay-error' : status === 502 && error ? 'target-unreachable' : 'closed';
    connection.end({ end, ...(error ? { reason: error } : {}), extra: { status } });
  };
  upstream.once('socket', (socket) => {
    if (!socket.connecting) return;
    const timer = setTimeout(() => upstream.destroy(new ConnectTimeoutError(origin, options.connectTimeoutMs)), options.connectTimeoutMs);
    socket.once('connect', () => clearTimer(timer));
    socket.once('close', () => clearTimer(timer));
  });
  upstream.once('response', (response: IncomingMessage) => {
    answered = true;
    res.writeHead(response.statusCode ?? 502, response.statusMessage ?? '', relayResponseHeaders(response.headers) as Record<string, string | string[]>);
    // Events go out as they come, not held for the control channel's 2 s / 64 KiB batch.
    if (isEventStream(response.headers['content-type'])) res.flushHeaders();
    response.pipe(res);
    response.once('end', () => finish(response.statusCode ?? 502));
    response.on('error', (err) => {
      res.destroy(err);
      finish('aborted', err.message);
    });
    // A target that dies mid-response must end the client's response as cut off, never as complete.
    response.once('close', () => {
      if (response.complete) return;
      res.destroy(new Error('the target closed the connection before the response was complete'));
      finish('aborted', 'the target closed the connection before the response was complete');
    });
  });
  upstream.on('error', (err: NodeJS.ErrnoException) => {
    if (answered) return;
    answered = true;
    const code = classifyDialError(err);
    const reason = code ? code.replace(/_/g, ' ') : err.message;
    req.unpipe(upstream);
    req.resume();
    sendText(res, 502, 'Bad Gateway', `hybridge bridge could not reach ${origin} for relay ${options.relayName}: ${reason}`);
    finish(502, reason);
  });
  req.once('error', (err) => upstream.destroy(err));
  res.once('close', () => {
    if (res.writableFinished) return;
    upstream.destroy();
    finish('aborted', 'the relayed request ended before the response was complete');
  });
  req.pipe(upstream);
}

function isEventStream(contentType: string | undefined): boolean {
  return contentType?.split(';')[0]?.trim().toLowerCase() === 'text/event-stream';
}

function sendText(res: RelayedHttpResponse, status: number, statusMessage: string, text: string): void {
  if (res.headersSent || res.writableEnded) {
    res.destroy();
    return;
  }
  res.writeHead(status, statusMessage, { 'Content-Type': 'text/plain; charset=utf-8' });
  res.end(`${text}\n`);
}
