/**
 * Plain HTTP senders as hyco-https users write them: Node's http/https.request and fetch, with
 * the relay token in the ServiceBusAuthorization header. Each returns the status, headers and a
 * digest of the body.
 */
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import { withTimeout } from '../helpers/async.js';
import { Digest, sha256 } from '../helpers/data.js';

export interface HttpResult {
  status: number;
  statusMessage: string;
  headers: Record<string, string>;
  length: number;
  sha256: string;
  /** When the first body byte arrived (Date.now()). */
  firstByteAt?: number;
}

export interface HttpSend {
  method?: string;
  headers?: Record<string, string>;
  body?: Buffer;
  /** Trust for an https:// URL. */
  ca?: string;
  timeoutMs?: number;
}

/** One request with Node's http or https module (no keep-alive agent, so nothing lingers). */
export function nodeRequest(url: string, send: HttpSend = {}): Promise<HttpResult> {
  const target = new URL(url);
  const secure = target.protocol === 'https:';
  const work = new Promise<HttpResult>((resolve, reject) => {
    const options: https.RequestOptions = {
      host: target.hostname,
      port: target.port,
      path: `${target.pathname}${target.search}`,
      method: send.method ?? 'GET',
      headers: send.headers ?? {},
      agent: false,
    };
    if (secure && send.ca) options.ca = send.ca;
    const req = (secure ? https : http).request(options, (res: IncomingMessage) => {
      const digest = new Digest();
      let firstByteAt: number | undefined;
      res.on('data', (chunk: Buffer) => {
        firstByteAt ??= Date.now();
        digest.update(chunk);
      });
      res.once('end', () => {
        const headers: Record<string, string> = {};
        for (const [name, value] of Object.entries(res.headers)) if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
        resolve({ status: res.statusCode ?? 0, statusMessage: res.statusMessage ?? '', headers, length: digest.length, sha256: digest.hex(), ...(firstByteAt !== undefined ? { firstByteAt } : {}) });
      });
      res.once('error', reject);
    });
    req.once('error', reject);
    req.end(send.body);
  });
  return withTimeout(work, send.timeoutMs ?? 30_000, `${send.method ?? 'GET'} ${target.pathname}`);
}

/** One request with the global fetch. */
export async function fetchRequest(url: string, send: HttpSend = {}): Promise<HttpResult> {
  const work = (async () => {
    const res = await fetch(url, { method: send.method ?? 'GET', headers: send.headers ?? {}, body: send.body });
    const parts: Buffer[] = [];
    let firstByteAt: number | undefined;
    if (res.body) {
      for await (const chunk of res.body) {
        firstByteAt ??= Date.now();
        parts.push(Buffer.from(chunk));
      }
    }
    const bytes = Buffer.concat(parts);
    const headers: Record<string, string> = {};
    res.headers.forEach((value, name) => (headers[name] = value));
    return { status: res.status, statusMessage: res.statusText, headers, length: bytes.length, sha256: sha256(bytes), ...(firstByteAt !== undefined ? { firstByteAt } : {}) };
  })();
  return withTimeout(work, send.timeoutMs ?? 30_000, `fetch ${send.method ?? 'GET'} ${new URL(url).pathname}`);
}
