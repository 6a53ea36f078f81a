/** SHA-256 of the pattern stream per size, computed once per run (about a second per GiB). */
import { streamDigest } from '../tools/pattern.js';

const cache = new Map<number, string>();

export function expectedDigest(bytes: number): string {
  let digest = cache.get(bytes);
  if (!digest) {
    digest = streamDigest(bytes);
    cache.set(bytes, digest);
  }
  return digest;
}
