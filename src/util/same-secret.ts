import { createHash, timingSafeEqual } from 'node:crypto';

function digest(value: Uint8Array | string): Buffer {
  return createHash('sha256').update(value).digest();
}

/**
 * A constant-time check against one secret, hashed once. Comparing digests keeps the lengths equal,
 * so neither the secret's length nor where a guess differs shows in the timing.
 */
export function secretMatcher(expected: Uint8Array | string): (given: Uint8Array | string) => boolean {
  const expectedDigest = digest(expected);
  return (given) => timingSafeEqual(digest(given), expectedDigest);
}

