/** WebSocket frames built byte by byte, as a peer (or an attacker) may send them: no shared code with src/. */
import { randomBytes } from 'node:crypto';

/** One client frame: FIN set unless `fin` is false; masked unless `masked` is false. */
export function clientFrame(opcode: number, payload: Buffer = Buffer.alloc(0), options: { fin?: boolean; masked?: boolean; declaredLength?: number } = {}): Buffer {
  const length = options.declaredLength ?? payload.length;
  const masked = options.masked !== false;
  const extra = length < 126 ? 0 : length < 65536 ? 2 : 8;
  const header = Buffer.alloc(2 + extra + (masked ? 4 : 0));
  header[0] = (options.fin === false ? 0 : 0x80) | opcode;
  header[1] = (masked ? 0x80 : 0) | (extra === 0 ? length : extra === 2 ? 126 : 127);
  if (extra === 2) header.writeUInt16BE(length, 2);
  if (extra === 8) header.writeBigUInt64BE(BigInt(length), 2);
  if (!masked) return Buffer.concat([header, payload]);
  const mask = randomBytes(4);
  mask.copy(header, 2 + extra);
  const body = Buffer.from(payload);
  for (let i = 0; i < body.length; i++) body[i]! ^= mask[i & 3]!;
  return Buffer.concat([header, body]);
}

export const OP = { text: 0x1, binary: 0x2, close: 0x8, ping: 0x9, pong: 0xa } as const;

export interface ServerFrame {
  fin: boolean;
  opcode: number;
  payload: Buffer;
}

/** Splits unmasked (server) frames out of `bytes`; an incomplete frame at the end is left out. */
export function parseServerFrames(bytes: Buffer): ServerFrame[] {
  const frames: ServerFrame[] = [];
  let at = 0;
  while (at + 2 <= bytes.length) {
    let length = bytes[at + 1]! & 0x7f;
    let header = 2;
    if (length === 126) {
      if (at + 4 > bytes.length) break;
      length = bytes.readUInt16BE(at + 2);
      header = 4;
    } else if (length === 127) {
      if (at + 10 > bytes.length) break;
      length = Number(bytes.readBigUInt64BE(at + 2));
      header = 10;
    }
    if (at + header + length > bytes.length) break;
    frames.push({ fin: (bytes[at]! & 0x80) !== 0, opcode: bytes[at]! & 0x0f, payload: bytes.subarray(at + header, at + header + length) });
    at += header + length;
  }
  return frames;
}
