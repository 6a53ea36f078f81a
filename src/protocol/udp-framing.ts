/**
 * UDP datagrams inside a relayed byte stream (reference/azbridge.md §3.4): each datagram is a
 * 2-byte big-endian length followed by that many payload bytes, in both directions. azbridge writes
 * one framed datagram per WebSocket message but its reader assumes messages are never split; the
 * decoder here makes no assumption about how the stream is chunked.
 */

export const MAX_DATAGRAM_LENGTH = 65535;
export const DATAGRAM_HEADER_LENGTH = 2;

export class DatagramFramingError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DatagramFramingError';
  }
}

/** The 2-byte length prefix for a payload of `length` bytes. */
export function encodeDatagramHeader(length: number): Buffer {
  if (!Number.isInteger(length) || length < 0 || length > MAX_DATAGRAM_LENGTH) {
    throw new DatagramFramingError(`datagram of ${length} bytes cannot be framed; the limit is ${MAX_DATAGRAM_LENGTH}`);
  }
  const header = Buffer.allocUnsafe(DATAGRAM_HEADER_LENGTH);
  header.writeUInt16BE(length, 0);
  return header;
}

/** Length prefix and payload in one buffer: one relay write per datagram, as azbridge does. */
export function encodeDatagram(payload: Uint8Array): Buffer {
  const header = encodeDatagramHeader(payload.length);
  return Buffer.concat([header, payload], DATAGRAM_HEADER_LENGTH + payload.length);
}

/**
 * Splits a byte stream back into datagrams. `push` returns the datagrams completed by the chunk, in
 * order (possibly none, possibly several, zero-length ones included). A datagram that lies whole
 * inside one chunk is returned as a view of that chunk, so callers must not overwrite a pushed buffer
 * while they still hold datagrams from it.
 */
export class DatagramDecoder {
  private header = Buffer.alloc(DATAGRAM_HEADER_LENGTH);
  private headerFill = 0;
  /** Length of the datagram being read, or -1 while its header is incomplete. */
  private expected = -1;
  private parts: Buffer[] = [];
  private partsLength = 0;

  push(chunk: Uint8Array): Buffer[] {
    const data = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    const out: Buffer[] = [];
    let offset = 0;
    while (offset < data.length) {
      if (this.expected < 0) {
        if (this.headerFill === 0 && data.length - offset >= DATAGRAM_HEADER_LENGTH) {
          this.expected = data.readUInt16BE(offset);
          offset += DATAGRAM_HEADER_LENGTH;
        } else {
          this.header[this.headerFill++] = data[offset++];
          if (this.headerFill < DATAGRAM_HEADER_LENGTH) continue;
          this.expected = this.header.readUInt16BE(0);
          this.headerFill = 0;
        }
      }
      const missing = this.expected - this.partsLength;
      const available = data.length - offset;
      if (this.partsLength === 0 && available >= missing) {
        out.push(data.subarray(offset, offset + missing));
        offset += missing;
        this.expected = -1;
        continue;
      }
      const take = Math.min(missing, available);
      // Copied: the caller may reuse `chunk` before the rest of this datagram arrives.
      this.parts.push(Buffer.from(data.subarray(offset, offset + take)));
      this.partsLength += take;
      offset += take;
      if (this.partsLength === this.expected) {
        out.push(Buffer.concat(this.parts, this.partsLength));
        this.parts = [];
        this.partsLength = 0;
        this.expected = -1;
      }
    }
    return out;
  }

  /** Bytes held for a datagram that has not fully arrived (0 at a datagram boundary). */
  get pendingBytes(): number {
    return this.headerFill + (this.expected >= 0 ? DATAGRAM_HEADER_LENGTH : 0) + this.partsLength;
  }
}
