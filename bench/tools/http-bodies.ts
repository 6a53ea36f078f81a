/** The HTTP target's response bodies, known to the driver so it can check what arrived. */
import { createHash } from 'node:crypto';
import { patternBlock } from './pattern.js';

export const HTTP_SMALL_BYTES = 128;
export const HTTP_LARGE_BYTES = 1_500_000;

export function httpBody(length: number): Buffer {
  const block = patternBlock(3);
  const body = Buffer.allocUnsafe(length);
  for (let offset = 0; offset < length; offset += block.length) block.copy(body, offset, 0, Math.min(block.length, length - offset));
  return body;
}

export function httpBodySha256(length: number): string {
  return createHash('sha256').update(httpBody(length)).digest('hex');
}
