/**
 * One small HTTP(S) request from the relay to the outside (an identity provider's key set, a
 * webhook), bounded in time and answer size, through the proxy a ProxyPolicy names for its
 * destination. The global fetch() cannot do this: it ignores HTTPS_PROXY and knows no SOCKS.
 */
import http from 'node:http';
import https from 'node:https';
import { collectBody } from '../util/collect-body.js';
import { proxyAgent } from './proxy-agent.js';
import type { ProxyPolicy } from './proxy-policy.js';
import { clearTimer } from '../util/clear-timer.js';

export interface OutboundRequest {
  method?: 'GET' | 'POST';
  headers?: Record<string, string>;
  body?: string;
  /** The whole exchange (redirects included) must end within this. */
  timeoutMs: number;
  /** A longer answer body fails the request. */
  maxBytes: number;
  policy: ProxyPolicy;
  /** Redirects followed for GET (default 0: a 3xx is the answer). */
  maxRedirects?: number;
}

export interface OutboundAnswer {
  status: number;
  text: string;
}

/** The answer, or an Error with a one-line reason (`no answer within N ms`, a socket error code, a size). */
export async function outboundRequest(url: string | URL, request: OutboundRequest): Promise<OutboundAnswer> {
  const deadline = Date.now() + request.timeoutMs;
  let target = new URL(url);
  for (let redirects = 0; ; redirects++) {
    const answer = await once(target, request, Math.max(1, deadline - Date.now()));
    const location = answer.location;
    const follow = (request.method ?? 'GET') === 'GET' && location !== undefined && answer.status >= 300 && answer.status < 400;
    if (!follow || redirects >= (request.maxRedirects ?? 0)) return { status: answer.status, text: answer.text };
    target = new URL(location, target);
    if (target.protocol !== 'http:' && target.protocol !== 'https:') throw new Error(`redirected to a ${target.protocol} URL`);
  }
}

function once(url: URL, request: OutboundRequest, timeoutMs: number): Promise<OutboundAnswer & { location?: string }> {
  const secure = url.protocol === 'https:';
  const agent = proxyAgent(request.policy, secure);
  return new Promise((resolve, reject) => {
    const fail = (reason: string) => {
      req.destroy();
      agent.destroy();
      reject(new Error(reason));
    };
    const timer = setTimeout(() => fail(`no answer within ${request.timeoutMs} ms`), timeoutMs);
    const done = (settle: () => void) => {
      clearTimer(timer);
      agent.destroy();
      settle();
    };
    const headers: Record<string, string> = { ...request.headers };
    if (request.body !== undefined) headers['content-length'] = String(Buffer.byteLength(request.body));
    const req = (secure ? https.request : http.request)(url, { method: request.method ?? 'GET', headers, agent, timeout: timeoutMs }, (res) => {
      const declared = Number(res.headers['content-length'] ?? 0);
      if (declared > request.maxBytes) return fail(`the document is larger than ${request.maxBytes} bytes`);
      collectBody(
        res,
        request.maxBytes,
        (body) => done(() => resolve({ status: res.statusCode ?? 0, text: body.toString('utf8'), location: headerText(res.headers.location) })),
        () => fail(`the document is larger than ${request.maxBytes} bytes`),
      );
      res.once('error', (err) => done(() => reject(new Error(reasonOf(err)))));
    });
    req.once('error', (err) => done(() => reject(new Error(reasonOf(err)))));
    req.end(request.body);
  });
}

function headerText(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function reasonOf(err: Error): string {
  return (err as NodeJS.ErrnoException).code ?? err.message;
}
