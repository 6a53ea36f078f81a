/**
 * Deterministic, incompressible test data shared by the driver, the target and the bench: a 1 MiB
 * block derived from a seed (SHA-256 in counter mode), repeated, with each 1 MiB chunk's index in
 * its first 8 bytes so a lost, repeated or reordered chunk changes the stream's SHA-256.
 */
import { createHash } from 'node:crypto';

export const CHUNK = 1024 * 1024;
const blocks = new Map<number, Buffer>();

export function patternBlock(seed = 1): Buffer {
  let block = blocks.get(seed);
  if (!block) {
    block = Buffer.allocUnsafe(CHUNK);
    const counter = Buffer.alloc(12);
    counter.writeUInt32BE(seed, 0);
    for (let offset = 0, i = 0; offset < CHUNK; offset += 32, i++) {
      counter.writeUInt32BE(i, 4);
      createHash('sha256').update(counter).digest().copy(block, offset);
    }
    blocks.set(seed, block);
  }
  return block;
}

/** Chunk `index` of the stream (a fresh buffer: the caller may hand it to a socket). */
export function streamChunk(index: number, length = CHUNK, seed = 1): Buffer {
  const chunk = Buffer.from(patternBlock(seed).subarray(0, length));
  if (length >= 8) chunk.writeBigUInt64BE(BigInt(index), 0);
  return chunk;
}

/**
 * A reusable chunk buffer for senders: `next(index, length)` rewrites the index and returns a view.
 * Safe to reuse only once the socket took the previous chunk (write() returned true or 'drain').
 */
export class ChunkWriter {
  private readonly buffer: Buffer;

  constructor(private readonly seed = 1) {
    this.buffer = Buffer.from(patternBlock(seed));
  }

  next(index: number, length = CHUNK): Buffer {
    const view = this.buffer.subarray(0, length);
    if (length >= 8) view.writeBigUInt64BE(BigInt(index), 0);
    else patternBlock(this.seed).copy(view, 0, 0, length);
    return view;
  }
}

/** Visits the chunks of a `total`-byte stream in order. */
export function forEachChunk(total: number, visit: (chunk: Buffer, index: number) => void, seed = 1): void {
  for (let index = 0, sent = 0; sent < total; index++) {
    const length = Math.min(CHUNK, total - sent);
    visit(streamChunk(index, length, seed), index);
    sent += length;
  }
}

/** SHA-256 (hex) of the `total`-byte stream; ~1 s per GiB, so the bench computes it once per size. */
export function streamDigest(total: number, seed = 1): string {
  const hash = createHash('sha256');
  forEachChunk(total, (chunk) => hash.update(chunk), seed);
  return hash.digest('hex');
}

/**
 * A message of `length` bytes for echo scenarios: unique per (connection, sequence) so a message
 * delivered to the wrong connection or out of order is caught.
 */
export function messageBytes(length: number, connection: number, sequence: number): Buffer {
  const block = patternBlock(2);
  const offset = (connection * 7919 + sequence * 104729) % (CHUNK - length);
  const message = Buffer.from(block.subarray(offset, offset + length));
  if (length >= 8) {
    message.writeUInt32BE(connection >>> 0, 0);
    message.writeUInt32BE(sequence >>> 0, 4);
  }
  return message;
}
