import { createHash, timingSafeEqual } from 'node:crypto';

function digest(value: Uint8Array | string): Buffer {
  return createHash('sha256').update(value).digest();
}

/** Constant-time equality of two secrets; comparing digests keeps the lengths equal and unrevealed. */
export function sameSecret(given: Uint8Array | string, expected: Uint8Array | string): boolean {
  return timingSafeEqual(digest(given), digest(expected));
}
