import { createHash, randomBytes } from 'node:crypto';

export function sha256(data: Buffer | Buffer[]): string {
  const hash = createHash('sha256');
  for (const part of Array.isArray(data) ? data : [data]) hash.update(part);
  return hash.digest('hex');
}

/** Deterministic pseudo-random bytes (cheap to make in bulk, different per seed). */
export function patternBytes(length: number, seed = 1): Buffer {
  const block = randomBlock(seed);
  const out = Buffer.allocUnsafe(length);
  for (let off = 0; off < length; off += block.length) block.copy(out, off, 0, Math.min(block.length, length - off));
  // Stamp the offset every 4 KiB so that reordered or duplicated blocks change the hash.
  for (let off = 0; off + 8 <= length; off += 4096) out.writeUInt32BE((off / 4096) >>> 0, off);
  return out;
}

const blocks = new Map<number, Buffer>();
function randomBlock(seed: number): Buffer {
  let b = blocks.get(seed);
  if (!b) {
    b = createHash('sha512').update(String(seed)).digest();
    const big = Buffer.allocUnsafe(64 * 1024);
    let state = b;
    for (let off = 0; off < big.length; off += state.length) {
      state = createHash('sha512').update(state).digest();
      state.copy(big, off);
    }
    b = big;
    blocks.set(seed, b);
  }
  return b;
}

export function randomPayload(length: number): Buffer {
  return randomBytes(length);
}

/** Incremental SHA-256 and byte count of a stream of chunks. */
export class Digest {
  private readonly hash = createHash('sha256');
  length = 0;
  update(chunk: Buffer): void {
    this.hash.update(chunk);
    this.length += chunk.length;
  }
  hex(): string {
    return this.hash.digest('hex');
  }
}
