import type { IncomingHttpHeaders } from 'node:http';
import { isSafeHeaderName } from './http-headers.js';
import { getOwn, setOwn } from './own-property.js';

/**
 * The two ends of an HTTP/1.1 exchange a WebSocket client needs without Node's http module: writing
 * a request head, and reading the response head and (for a refusal) a small body. Node's HTTP client
 * costs about 0.3 ms of CPU per upgrade more than this on loopback (agent, outgoing message, parser
 * and incoming message objects), and a relayed connection makes two upgrades on its critical path.
 */

/** Node's default limit for a response head (--max-http-header-size). */
export const MAX_RESPONSE_HEAD_BYTES = 16 * 1024;

export class HttpMessageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'HttpMessageError';
  }
}

// Header values may hold any byte but CR, LF and NUL; Node accepts tab, printable ASCII and
// Latin-1, and so does this.
const VALUE_CHARS = /^[\t\x20-\x7e\x80-\xff]*$/;
const REQUEST_TARGET = /^[\x21-\x7e]+$/;

export function encodeRequestHead(method: string, target: string, headers: Record<string, string>): Buffer {
  if (!REQUEST_TARGET.test(target)) throw new HttpMessageError(`request target ${JSON.stringify(target)} holds characters a request line cannot carry`);
  let head = `${method} ${target} HTTP/1.1\r\n`;
  for (const [name, value] of Object.entries(headers)) {
    if (!isSafeHeaderName(name)) throw new HttpMessageError(`invalid header name ${JSON.stringify(name)}`);
    if (!VALUE_CHARS.test(value)) throw new HttpMessageError(`header "${name}" has a value with characters a header cannot carry`);
    head += `${name}: ${value}\r\n`;
  }
  return Buffer.from(`${head}\r\n`, 'latin1');
}

export interface ResponseHead {
  statusCode: number;
  statusMessage: string;
  /** Lower-case names; repeated headers joined with ", " (set-cookie kept as a list). */
  headers: IncomingHttpHeaders;
  /** Bytes the head took, blank line included: the body (or the upgraded protocol) starts here. */
  length: number;
}

const STATUS_LINE = /^HTTP\/1\.[01] ([1-9]\d\d)(?: ([^\r\n]*))?$/;
const HEAD_END = Buffer.from('\r\n\r\n', 'latin1');

/** The response head at the start of `buffer`; undefined while the blank line has not arrived. */
export function parseResponseHead(buffer: Buffer): ResponseHead | undefined {
  const end = buffer.indexOf(HEAD_END);
  const headLength = end < 0 ? buffer.length : end + HEAD_END.length;
  if (headLength > MAX_RESPONSE_HEAD_BYTES) throw new HttpMessageError(`response head larger than ${MAX_RESPONSE_HEAD_BYTES} bytes`);
  if (end < 0) return undefined;
  const lines = buffer.toString('latin1', 0, end).split('\r\n');
  const status = STATUS_LINE.exec(lines[0]!);
  if (!status) throw new HttpMessageError(`not an HTTP/1.1 response: ${JSON.stringify(lines[0]!.slice(0, 80))}`);
  const headers: IncomingHttpHeaders = {};
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    const name = line.slice(0, colon).toLowerCase();
    if (colon <= 0 || !isSafeHeaderName(name)) throw new HttpMessageError(`malformed response header line ${JSON.stringify(line.slice(0, 80))}`);
    const value = line.slice(colon + 1).trim();
    if (name === 'set-cookie') (headers['set-cookie'] ??= []).push(value);
    else {
      const known = getOwn(headers, name);
      setOwn(headers, name, known === undefined ? value : `${known as string}, ${value}`);
    }
  }
  return { statusCode: Number(status[1]), statusMessage: status[2] ?? '', headers, length: headLength };
}

/**
 * Collects the start of a response body, at most `limit` bytes, framed by Content-Length, chunked
 * transfer coding, or the end of the connection. push() answers true once nothing more is wanted.
 */
export class BodyCollector {
  private readonly parts: Buffer[] = [];
  private size = 0;
  private remaining: number | undefined;
  private readonly chunked: boolean;
  /** Chunked coding: undecoded bytes, and how much of the current chunk is still to come. */
  private pending = Buffer.alloc(0);
  private chunkLeft = 0;
  private complete = false;

  constructor(
    head: ResponseHead,
    private readonly limit: number,
  ) {
    const coding = String(head.headers['transfer-encoding'] ?? '').toLowerCase();
    this.chunked = /(^|,)\s*chunked\s*$/.test(coding);
    const length = head.headers['content-length'];
    if (!this.chunked && length !== undefined) this.remaining = /^\d+$/.test(length) ? Number(length) : 0;
    if (head.statusCode === 204 || head.statusCode === 304 || this.remaining === 0) this.complete = true;
  }

  get done(): boolean {
    return this.complete || this.size >= this.limit;
  }

  get text(): string {
    return Buffer.concat(this.parts).subarray(0, this.limit).toString('utf8');
  }

  push(chunk: Buffer): boolean {
    if (this.done) return true;
    if (this.chunked) this.pushChunked(chunk);
    else if (this.remaining !== undefined) {
      const part = chunk.subarray(0, this.remaining);
      this.remaining -= part.length;
      this.keep(part);
      if (this.remaining === 0) this.complete = true;
    } else this.keep(chunk);
    return this.done;
  }

  private keep(part: Buffer): void {
    if (part.length === 0) return;
    this.parts.push(part);
    this.size += part.length;
  }

  private pushChunked(chunk: Buffer): void {
    let data = this.pending.length > 0 ? Buffer.concat([this.pending, chunk]) : chunk;
    while (data.length > 0 && !this.done) {
      if (this.chunkLeft > 0) {
        const part = data.subarray(0, this.chunkLeft);
        this.keep(part);
        this.chunkLeft -= part.length;
        data = data.subarray(part.length);
        continue;
      }
      // Between chunks: an optional CRLF closing the previous chunk, then "size[;ext]\r\n".
      if (data[0] === 0x0d || data[0] === 0x0a) {
        data = data.subarray(1);
        continue;
      }
      const eol = data.indexOf('\r\n', 0, 'latin1');
      if (eol < 0) {
        if (data.length > 1024) throw new HttpMessageError('malformed chunked response body');
        break;
      }
      const size = Number.parseInt(data.toString('latin1', 0, eol).split(';')[0]!.trim(), 16);
      if (!Number.isFinite(size) || size < 0) throw new HttpMessageError('malformed chunked response body');
      data = data.subarray(eol + 2);
      if (size === 0) this.complete = true;
      this.chunkLeft = size;
    }
    this.pending = this.done ? Buffer.alloc(0) : Buffer.from(data);
  }
}
