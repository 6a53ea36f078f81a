/**
 * Checks a received bulk stream: either byte for byte against the expected pattern stream
 * ('compare', the default: every byte, at memcmp speed) or by SHA-256 of the whole stream
 * ('sha256'; about 1 s of CPU per GiB, which on a 2-core machine caps what the bench can measure).
 */
import { createHash, type Hash } from 'node:crypto';
import { ChunkWriter, CHUNK } from './pattern.js';

export type CheckMode = 'compare' | 'sha256';

export interface StreamCheck {
  update(chunk: Buffer): void;
  readonly bytes: number;
  /** For 'compare': whether every byte so far matched; for 'sha256': the digest (hex) at the end. */
  finish(): { matched: boolean; sha256?: string };
}

export class CompareCheck implements StreamCheck {
  bytes = 0;
  private mismatched = false;
  private readonly expected = new ChunkWriter();
  private index = 0;
  private offset = 0;
  private current: Buffer;

  constructor(private readonly total: number) {
    this.current = this.expected.next(0, Math.min(CHUNK, total));
  }

  update(chunk: Buffer): void {
    this.bytes += chunk.length;
    if (this.bytes > this.total) {
      this.mismatched = true;
      return;
    }
    for (let p = 0; p < chunk.length; ) {
      const take = Math.min(this.current.length - this.offset, chunk.length - p);
      if (!this.mismatched && this.current.compare(chunk, p, p + take, this.offset, this.offset + take) !== 0) this.mismatched = true;
      p += take;
      this.offset += take;
      if (this.offset === this.current.length) {
        this.index++;
        this.offset = 0;
        const left = this.total - this.index * CHUNK;
        if (left > 0) this.current = this.expected.next(this.index, Math.min(CHUNK, left));
      }
    }
  }

  finish(): { matched: boolean } {
    return { matched: !this.mismatched && this.bytes === this.total };
  }
}

export class Sha256Check implements StreamCheck {
  bytes = 0;
  private readonly hash: Hash = createHash('sha256');

  constructor(private readonly expectSha256: string) {}

  update(chunk: Buffer): void {
    this.bytes += chunk.length;
    this.hash.update(chunk);
  }

  finish(): { matched: boolean; sha256: string } {
    const sha256 = this.hash.digest('hex');
    return { matched: sha256 === this.expectSha256, sha256 };
  }
}
