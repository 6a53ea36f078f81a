import { randomFillSync } from 'node:crypto';
import { maskInto, unmaskInPlace } from './masking.js';

/** RFC 6455 opcodes. */
export const Opcode = {
  Continuation: 0x0,
  Text: 0x1,
  Binary: 0x2,
  Close: 0x8,
  Ping: 0x9,
  Pong: 0xa,
} as const;

/** Close codes used across hybridge (RFC 6455 §7.4.1 and the Hybrid Connections protocol §3.2). */
export const CloseCode = {
  Normal: 1000,
  GoingAway: 1001,
  ProtocolError: 1002,
  Unsupported: 1003,
  NoStatus: 1005,
  Abnormal: 1006,
  InvalidPayload: 1007,
  PolicyViolation: 1008,
  MessageTooBig: 1009,
  InternalError: 1011,
} as const;

export class WebSocketProtocolError extends Error {
  constructor(
    message: string,
    readonly closeCode: number,
  ) {
    super(message);
    this.name = 'WebSocketProtocolError';
  }
}

export interface FrameHeader {
  fin: boolean;
  opcode: number;
  length: number;
  mask: Buffer | undefined;
}

/** Receives decoded frames. Payload chunks of data frames arrive unmasked and may be split. */
export interface FrameHandler {
  onDataFrameStart(header: FrameHeader): void;
  onDataPayload(chunk: Buffer): void;
  onDataFrameEnd(header: FrameHeader): void;
  onControlFrame(opcode: number, payload: Buffer): void;
}

export interface FrameDecoderOptions {
  /** Server side: frames from clients must be masked. Client side: frames must not be. */
  expectMasked: boolean;
  /** Largest single frame accepted; larger frames fail with close code 1009. */
  maxFrameLength?: number;
}

const enum State {
  Header,
  DataPayload,
  ControlPayload,
}

const DEFAULT_MAX_FRAME = 2 ** 53 - 1;

export function isControlOpcode(opcode: number): boolean {
  return (opcode & 0x8) !== 0;
}

/**
 * Incremental WebSocket frame decoder. It never reassembles data frames: payload bytes are handed
 * on as they arrive, so a relay can stream frames of any size with bounded memory. It checks frame
 * syntax and fragmentation order; message semantics (UTF-8, sizes) belong to the consumer.
 */
export class FrameDecoder {
  private state = State.Header;
  private readonly headerBuf = Buffer.allocUnsafe(14);
  private headerHave = 0;
  private header: FrameHeader = { fin: true, opcode: 0, length: 0, mask: undefined };
  private remaining = 0;
  private payloadOffset = 0;
  private controlBuf: Buffer = Buffer.alloc(0);
  private inFragmentedMessage = false;
  private failed: WebSocketProtocolError | undefined;
  private readonly maxFrameLength: number;

  constructor(
    private readonly handler: FrameHandler,
    private readonly options: FrameDecoderOptions,
  ) {
    this.maxFrameLength = options.maxFrameLength ?? DEFAULT_MAX_FRAME;
  }

  /** True while a fragmented data message has started and not finished. */
  get midMessage(): boolean {
    return this.inFragmentedMessage || this.state === State.DataPayload;
  }

  /** Feeds bytes. Throws WebSocketProtocolError on malformed input; after that it refuses more. */
  push(chunk: Buffer): void {
    if (this.failed) throw this.failed;
    try {
      let offset = 0;
      while (offset < chunk.length) {
        switch (this.state) {
          case State.Header:
            offset = this.readHeader(chunk, offset);
            break;
          case State.DataPayload:
            offset = this.readDataPayload(chunk, offset);
            break;
          case State.ControlPayload:
            offset = this.readControlPayload(chunk, offset);
            break;
        }
      }
    } catch (err) {
      if (err instanceof WebSocketProtocolError) this.failed = err;
      throw err;
    }
  }

  private readHeader(chunk: Buffer, offset: number): number {
    const available = chunk.length - offset;
    if (this.headerHave === 0 && available >= 2) {
      const need = headerSize(chunk[offset + 1]!);
      if (available >= need) {
        this.parseHeader(chunk, offset);
        return offset + need;
      }
    }
    // Slow path: the header is split across chunks.
    let need = this.headerHave >= 2 ? headerSize(this.headerBuf[1]!) : 2;
    while (offset < chunk.length && this.headerHave < need) {
      this.headerBuf[this.headerHave++] = chunk[offset++]!;
      if (this.headerHave === 2) need = headerSize(this.headerBuf[1]!);
    }
    if (this.headerHave < need) return offset;
    this.headerHave = 0;
    this.parseHeader(this.headerBuf, 0);
    return offset;
  }

  private parseHeader(buf: Buffer, at: number): void {
    const b0 = buf[at]!;
    const b1 = buf[at + 1]!;
    const fin = (b0 & 0x80) !== 0;
    const opcode = b0 & 0x0f;
    const masked = (b1 & 0x80) !== 0;
    let length = b1 & 0x7f;
    let pos = at + 2;
    if ((b0 & 0x70) !== 0) throw new WebSocketProtocolError('reserved bits set without a negotiated extension', CloseCode.ProtocolError);
    if (length === 126) {
      length = buf.readUInt16BE(pos);
      pos += 2;
    } else if (length === 127) {
      const high = buf.readUInt32BE(pos);
      const low = buf.readUInt32BE(pos + 4);
      if (high > 0x1fffff) throw new WebSocketProtocolError('frame length exceeds 2^53', CloseCode.MessageTooBig);
      length = high * 2 ** 32 + low;
      pos += 8;
    }
    if (masked !== this.options.expectMasked) {
      throw new WebSocketProtocolError(masked ? 'unexpected masked frame from server' : 'client frame is not masked', CloseCode.ProtocolError);
    }
    const mask = masked ? Buffer.from(buf.subarray(pos, pos + 4)) : undefined;
    this.header = { fin, opcode, length, mask };

    if (isControlOpcode(opcode)) {
      if (opcode !== Opcode.Close && opcode !== Opcode.Ping && opcode !== Opcode.Pong) {
        throw new WebSocketProtocolError(`unknown opcode ${opcode}`, CloseCode.ProtocolError);
      }
      if (!fin) throw new WebSocketProtocolError('fragmented control frame', CloseCode.ProtocolError);
      if (length > 125) throw new WebSocketProtocolError('control frame longer than 125 bytes', CloseCode.ProtocolError);
      this.remaining = length;
      this.controlBuf = Buffer.allocUnsafe(length);
      this.payloadOffset = 0;
      this.state = State.ControlPayload;
      if (length === 0) this.finishControl();
      return;
    }
    if (opcode === Opcode.Continuation) {
      if (!this.inFragmentedMessage) throw new WebSocketProtocolError('continuation frame without a message', CloseCode.ProtocolError);
    } else if (opcode === Opcode.Text || opcode === Opcode.Binary) {
      if (this.inFragmentedMessage) throw new WebSocketProtocolError('new message before the previous one finished', CloseCode.ProtocolError);
    } else {
      throw new WebSocketProtocolError(`unknown opcode ${opcode}`, CloseCode.ProtocolError);
    }
    if (length > this.maxFrameLength) throw new WebSocketProtocolError(`frame of ${length} bytes exceeds the limit`, CloseCode.MessageTooBig);
    this.inFragmentedMessage = !fin;
    this.remaining = length;
    this.payloadOffset = 0;
    this.handler.onDataFrameStart(this.header);
    if (length === 0) {
      this.handler.onDataFrameEnd(this.header);
      return;
    }
    this.state = State.DataPayload;
  }

  private readDataPayload(chunk: Buffer, offset: number): number {
    const n = Math.min(this.remaining, chunk.length - offset);
    const piece = offset === 0 && n === chunk.length ? chunk : chunk.subarray(offset, offset + n);
    if (this.header.mask) unmaskInPlace(piece, this.header.mask, this.payloadOffset);
    this.payloadOffset += n;
    this.remaining -= n;
    const header = this.header;
    if (this.remaining === 0) this.state = State.Header;
    this.handler.onDataPayload(piece);
    if (this.remaining === 0) this.handler.onDataFrameEnd(header);
    return offset + n;
  }

  private readControlPayload(chunk: Buffer, offset: number): number {
    const n = Math.min(this.remaining, chunk.length - offset);
    chunk.copy(this.controlBuf, this.payloadOffset, offset, offset + n);
    this.payloadOffset += n;
    this.remaining -= n;
    if (this.remaining === 0) this.finishControl();
    return offset + n;
  }

  private finishControl(): void {
    const payload = this.controlBuf;
    if (this.header.mask) unmaskInPlace(payload, this.header.mask, 0);
    this.state = State.Header;
    this.handler.onControlFrame(this.header.opcode, payload);
  }
}

function headerSize(b1: number): number {
  const len = b1 & 0x7f;
  const masked = (b1 & 0x80) !== 0;
  return 2 + (len === 126 ? 2 : len === 127 ? 8 : 0) + (masked ? 4 : 0);
}

/** Encodes a frame header; when `mask` is given the MASK bit is set and the key appended. */
export function encodeFrameHeader(fin: boolean, opcode: number, length: number, mask?: Buffer): Buffer {
  const extra = length < 126 ? 0 : length < 65536 ? 2 : 8;
  const header = Buffer.allocUnsafe(2 + extra + (mask ? 4 : 0));
  header[0] = (fin ? 0x80 : 0) | opcode;
  const maskBit = mask ? 0x80 : 0;
  if (extra === 0) {
    header[1] = maskBit | length;
  } else if (extra === 2) {
    header[1] = maskBit | 126;
    header.writeUInt16BE(length, 2);
  } else {
    header[1] = maskBit | 127;
    header.writeUInt32BE(Math.floor(length / 2 ** 32), 2);
    header.writeUInt32BE(length >>> 0, 6);
  }
  if (mask) mask.copy(header, 2 + extra);
  return header;
}

const maskPool = Buffer.allocUnsafe(4096);
let maskPoolOffset = maskPool.length;

/** A fresh random 4-byte masking key (drawn from a refilled pool to avoid a syscall per frame). */
export function randomMask(): Buffer {
  if (maskPoolOffset + 4 > maskPool.length) {
    randomFillSync(maskPool);
    maskPoolOffset = 0;
  }
  const mask = Buffer.from(maskPool.subarray(maskPoolOffset, maskPoolOffset + 4));
  maskPoolOffset += 4;
  return mask;
}

/**
 * How a frame's payload is masked: server frames are not ('none'); client frames get a random key
 * ('random') or, where masking protects nothing (TLS, loopback), the all-zero key ('zero'), which
 * leaves the payload as it is and saves the masked copy.
 */
export type Masking = 'none' | 'random' | 'zero';

const ZERO_MASK = Buffer.alloc(4);

/** The header of a frame whose payload goes out as it is: unmasked, or masked with the zero key. */
export function encodeUncopiedFrameHeader(fin: boolean, opcode: number, length: number, masking: Exclude<Masking, 'random'>): Buffer {
  return encodeFrameHeader(fin, opcode, length, masking === 'zero' ? ZERO_MASK : undefined);
}

/**
 * Encodes a frame. With a random key the header and a masked copy of the payload come as one
 * buffer; otherwise header and payload are returned separately to avoid a copy.
 */
export function encodeFrame(fin: boolean, opcode: number, payload: Buffer, masking: Masking): Buffer[] {
  if (masking !== 'random') {
    const header = encodeUncopiedFrameHeader(fin, opcode, payload.length, masking);
    return payload.length === 0 ? [header] : [header, payload];
  }
  const mask = randomMask();
  const header = encodeFrameHeader(fin, opcode, payload.length, mask);
  const out = Buffer.allocUnsafe(header.length + payload.length);
  header.copy(out, 0);
  maskInto(payload, mask, out, header.length);
  return [out];
}

/**
 * Encodes a small frame (a control frame, at most 125 bytes of payload) as one buffer, so it goes
 * out in one write. Server frames use the default (no masking).
 */
export function encodeSmallFrame(opcode: number, payload: Buffer, masking: Masking = 'none'): Buffer {
  const parts = encodeFrame(true, opcode, payload, masking);
  return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
}

/** Builds a Close frame payload: 2-byte code plus a UTF-8 reason cut to fit the 125-byte limit. */
export function encodeClosePayload(code: number | undefined, reason = ''): Buffer {
  if (code === undefined || code === CloseCode.NoStatus) return Buffer.alloc(0);
  let reasonBytes: Buffer = Buffer.from(reason, 'utf8');
  if (reasonBytes.length > 123) reasonBytes = truncateUtf8(reasonBytes, 123);
  const out = Buffer.allocUnsafe(2 + reasonBytes.length);
  out.writeUInt16BE(code, 0);
  reasonBytes.copy(out, 2);
  return out;
}

function truncateUtf8(bytes: Buffer, max: number): Buffer {
  let end = max;
  // Step back over continuation bytes so a multi-byte character is not cut in half.
  while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end--;
  return bytes.subarray(0, end);
}

export interface ClosePayload {
  code: number;
  reason: string;
}

/** Decodes a Close payload; an empty payload means "no status" (1005). */
export function decodeClosePayload(payload: Buffer): ClosePayload {
  if (payload.length === 0) return { code: CloseCode.NoStatus, reason: '' };
  if (payload.length === 1) throw new WebSocketProtocolError('close frame with a 1-byte payload', CloseCode.ProtocolError);
  const code = payload.readUInt16BE(0);
  if (!isValidWireCloseCode(code)) throw new WebSocketProtocolError(`invalid close code ${code}`, CloseCode.ProtocolError);
  return { code, reason: payload.subarray(2).toString('utf8') };
}

export function isValidWireCloseCode(code: number): boolean {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999);
}
