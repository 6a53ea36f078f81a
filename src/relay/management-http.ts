import type { IncomingMessage, ServerResponse } from 'node:http';

/** What the management API's handlers share: their error type, the JSON body reader and the JSON answer. */

const MAX_BODY = 16 * 1024;

/** A management request that cannot be served, answered with `status` and the relay's error shape. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** The caller did not prove the right to do this: answered through the failure throttle. */
    readonly authFailure = false,
  ) {
    super(message);
  }
}

/**
 * Reads a JSON object body of at most MAX_BODY bytes. A larger body is answered with 413 at once;
 * the rest of it is read and dropped (bounded by the relay's linger for unread bodies), so the
 * client gets its answer instead of a reset.
 */
export function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const tooLarge = () => new HttpError(413, 'PayloadTooLarge', `request body is larger than ${MAX_BODY} bytes`);
    const chunks: Buffer[] = [];
    let size = 0;
    let refused = false;
    const refuse = () => {
      refused = true;
      chunks.length = 0;
      reject(tooLarge());
    };
    if (Number(req.headers['content-length'] ?? 0) > MAX_BODY) refuse();
    req.on('data', (chunk: Buffer) => {
      if (refused) return;
      size += chunk.length;
      if (size > MAX_BODY) return refuse();
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (refused) return;
      const text = Buffer.concat(chunks).toString('utf8').trim();
      if (!text) return resolve({});
      try {
        const value: unknown = JSON.parse(text);
        if (typeof value !== 'object' || value === null || Array.isArray(value)) return reject(new HttpError(400, 'BadRequest', 'request body must be a JSON object'));
        resolve(value as Record<string, unknown>);
      } catch {
        reject(new HttpError(400, 'BadRequest', 'request body is not valid JSON'));
      }
    });
    req.on('error', reject);
  });
}


export function send(res: ServerResponse, status: number, body: unknown): void {
  if (body === undefined) {
    res.writeHead(status).end();
    return;
  }
  const text = JSON.stringify(body, null, 2);
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}
