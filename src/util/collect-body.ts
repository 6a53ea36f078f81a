import type { IncomingMessage } from 'node:http';

/**
 * Collects an HTTP answer's body up to `maxBytes`: `done` gets it at the end; past the bound the
 * chunks stop being kept and `tooLarge` is called once (the caller destroys the request).
 */
export function collectBody(res: IncomingMessage, maxBytes: number, done: (body: Buffer) => void, tooLarge: () => void): void {
  const chunks: Buffer[] = [];
  let size = 0;
  res.on('data', (chunk: Buffer) => {
    if (size > maxBytes) return;
    size += chunk.length;
    if (size > maxBytes) return tooLarge();
    chunks.push(chunk);
  });
  res.on('end', () => {
    if (size <= maxBytes) done(Buffer.concat(chunks));
  });
}
