/**
 * hybridge's multiplexing frames (docs/multiplexing.md), no I/O. Every frame is an 8-byte header
 * `type u8 | flags u8 | stream u32 | length u16` (big-endian) and `length` payload bytes. The frames
 * travel as a byte stream inside the binary messages of one relayed connection: a message may hold
 * several frames and a frame may span messages.
 */
import { truncateUtf8 } from '../util/truncate-utf8.js';

export const FRAME_HEADER_BYTES = 8;
/** Largest payload of any frame; a longer one is a protocol error. Data is cut into frames of at most this. */
export const MAX_FRAME_PAYLOAD = 16 * 1024;
/** Largest RESET / GOAWAY reason, in UTF-8 bytes. */
export const MAX_REASON_BYTES = 123;

export const FrameType = {
  /** Stream data; the first one a sender sends on a new stream id is OPEN instead. */
  Data: 0x00,
  /** Creates a stream (odd id, above every earlier one); carries the stream's first message like DATA. */
  Open: 0x01,
  /** The sender of this frame ends its direction of the stream (half-close). */
  Fin: 0x02,
  /** The stream is over for the sender of this frame: `code u16 | reason`. */
  Reset: 0x03,
  /** More credit for the stream: `increment u32` bytes. */
  Window: 0x04,
  /** Session keep-alive: 8 opaque bytes; flag ACK marks the answer. Stream 0. */
  Ping: 0x05,
  /** No new streams on this session: `lastStream u32 | code u16 | reason`. Stream 0. */
  GoAway: 0x06,
  /** First frame from each side: `window u32 | maxStreams u32`. Stream 0. */
  Settings: 0x07,
} as const;
export type FrameType = (typeof FrameType)[keyof typeof FrameType];

export const FrameFlag = {
  /** DATA/OPEN: the message is text (an aztunnel envelope or response); otherwise binary. */
  Text: 0x01,
  /** DATA/OPEN: the message goes on in the next DATA frame of the stream. */
  More: 0x02,
  /** PING: this is the answer. */
  Ack: 0x01,
} as const;

/** Reset codes besides WebSocket close codes, which pass through unchanged (1000 clean, 1001, 1011, ...). */
export const ResetCode = {
  /** The listener has as many streams open as it allows. */
  RefusedStreamLimit: 4001,
  /** The session is going away and takes no new streams. */
  RefusedGoingAway: 4002,
  /** The session the stream was on is gone (reported locally, never sent). */
  SessionLost: 4003,
} as const;

export interface Frame {
  type: FrameType;
  flags: number;
  stream: number;
  payload: Buffer;
}

export interface Settings {
  /** Bytes the sender of the frame accepts per stream before it grants more credit. */
  window: number;
  /** Streams the sender of the frame accepts at once. */
  maxStreams: number;
}

export class MuxProtocolError extends Error {
  constructor(
    message: string,
    /** The WebSocket close code the session ends with. */
    readonly closeCode: number = 1002,
  ) {
    super(message);
    this.name = 'MuxProtocolError';
  }
}

export function encodeFrame(type: FrameType, flags: number, stream: number, payload: Buffer = EMPTY): Buffer {
  if (payload.length > MAX_FRAME_PAYLOAD) throw new RangeError(`frame payload ${payload.length} > ${MAX_FRAME_PAYLOAD}`);
  const out = Buffer.allocUnsafe(FRAME_HEADER_BYTES + payload.length);
  writeHeader(out, type, flags, stream, payload.length);
  payload.copy(out, FRAME_HEADER_BYTES);
  return out;
}

/** The header alone, for a payload written separately (data frames, without copying the data). */
export function encodeHeader(type: FrameType, flags: number, stream: number, length: number): Buffer {
  const out = Buffer.allocUnsafe(FRAME_HEADER_BYTES);
  writeHeader(out, type, flags, stream, length);
  return out;
}

function writeHeader(out: Buffer, type: FrameType, flags: number, stream: number, length: number): void {
  out[0] = type;
  out[1] = flags;
  out.writeUInt32BE(stream, 2);
  out.writeUInt16BE(length, 6);
}

export function encodeReset(stream: number, code: number, reason: string): Buffer {
  return encodeFrame(FrameType.Reset, 0, stream, codeAndReason(code, reason));
}

export function encodeGoAway(lastStream: number, code: number, reason: string): Buffer {
  const tail = codeAndReason(code, reason);
  const payload = Buffer.allocUnsafe(4 + tail.length);
  payload.writeUInt32BE(lastStream, 0);
  tail.copy(payload, 4);
  return encodeFrame(FrameType.GoAway, 0, 0, payload);
}

export function encodeWindow(stream: number, increment: number): Buffer {
  const payload = Buffer.allocUnsafe(4);
  payload.writeUInt32BE(increment, 0);
  return encodeFrame(FrameType.Window, 0, stream, payload);
}

export function encodeSettings(settings: Settings): Buffer {
  const payload = Buffer.allocUnsafe(8);
  payload.writeUInt32BE(settings.window, 0);
  payload.writeUInt32BE(settings.maxStreams, 4);
  return encodeFrame(FrameType.Settings, 0, 0, payload);
}

export function encodePing(ack: boolean, opaque: Buffer): Buffer {
  return encodeFrame(FrameType.Ping, ack ? FrameFlag.Ack : 0, 0, opaque);
}

function codeAndReason(code: number, reason: string): Buffer {
  const text = truncateUtf8(reason, MAX_REASON_BYTES);
  const out = Buffer.allocUnsafe(2 + text.length);
  out.writeUInt16BE(code, 0);
  text.copy(out, 2);
  return out;
}

export function decodeCodeAndReason(payload: Buffer, offset: number): { code: number; reason: string } {
  if (payload.length < offset + 2) throw new MuxProtocolError('reset or go-away without a code');
  if (payload.length - offset - 2 > MAX_REASON_BYTES) throw new MuxProtocolError('reason longer than 123 bytes');
  const reasonBytes = payload.subarray(offset + 2);
  const reason = new TextDecoder('utf-8', { fatal: true });
  let text: string;
  try {
    text = reason.decode(reasonBytes);
  } catch {
    throw new MuxProtocolError('reason is not valid UTF-8');
  }
  return { code: payload.readUInt16BE(offset), reason: text };
}

export function decodeSettings(payload: Buffer): Settings {
  if (payload.length !== 8) throw new MuxProtocolError('settings frame must carry 8 bytes');
  const window = payload.readUInt32BE(0);
  const maxStreams = payload.readUInt32BE(4);
  if (window < MAX_FRAME_PAYLOAD || window > MAX_WINDOW) throw new MuxProtocolError(`window ${window} outside ${MAX_FRAME_PAYLOAD}..${MAX_WINDOW}`);
  if (maxStreams < 1) throw new MuxProtocolError('max streams must be at least 1');
  return { window, maxStreams };
}

/** Largest window or credit a stream can hold (2^31 - 1, as HTTP/2). */
export const MAX_WINDOW = 0x7fffffff;

const KNOWN_TYPES = new Set<number>(Object.values(FrameType));
/** Frames that belong to the session (stream 0) and those that belong to a stream (id > 0). */
const SESSION_TYPES = new Set<number>([FrameType.Ping, FrameType.GoAway, FrameType.Settings]);

/**
 * Cuts a byte stream into frames. Checks what a frame can be checked for alone (type, length, which
 * types need stream 0); push() throws MuxProtocolError on the first bad frame. Holds at most one
 * frame's bytes (header + 16 KiB) between pushes.
 */
export class FrameDecoder {
  private pending: Buffer[] = [];
  private pendingBytes = 0;

  push(chunk: Buffer, onFrame: (frame: Frame) => void): void {
    if (this.pendingBytes > 0) {
      // Complete the held frame with just the bytes it lacks, so a large chunk is not copied whole.
      const taken = this.completePending(chunk, onFrame);
      if (taken === chunk.length) return;
      chunk = chunk.subarray(taken);
    }
    let offset = 0;
    while (chunk.length - offset >= FRAME_HEADER_BYTES) {
      const type = chunk[offset]!;
      const flags = chunk[offset + 1]!;
      const stream = chunk.readUInt32BE(offset + 2);
      const length = chunk.readUInt16BE(offset + 6);
      checkHeader(type, flags, stream, length);
      if (chunk.length - offset - FRAME_HEADER_BYTES < length) break;
      const start = offset + FRAME_HEADER_BYTES;
      offset = start + length;
      onFrame({ type: type as FrameType, flags, stream, payload: chunk.subarray(start, offset) });
    }
    if (offset < chunk.length) this.hold(chunk.subarray(offset));
  }

  /** Adds bytes of `chunk` to the held partial frame; emits it once complete. Returns the bytes taken. */
  private completePending(chunk: Buffer, onFrame: (frame: Frame) => void): number {
    let taken = 0;
    if (this.pendingBytes < FRAME_HEADER_BYTES) {
      taken = Math.min(FRAME_HEADER_BYTES - this.pendingBytes, chunk.length);
      this.hold(chunk.subarray(0, taken));
      if (this.pendingBytes < FRAME_HEADER_BYTES) return taken;
    }
    const head = this.pending[0]!.length >= FRAME_HEADER_BYTES ? this.pending[0]! : Buffer.concat(this.pending, this.pendingBytes);
    if (head !== this.pending[0]) this.pending = [head];
    const length = head.readUInt16BE(6);
    checkHeader(head[0]!, head[1]!, head.readUInt32BE(2), length);
    const total = FRAME_HEADER_BYTES + length;
    const more = Math.min(total - this.pendingBytes, chunk.length - taken);
    if (more > 0) this.hold(chunk.subarray(taken, taken + more));
    taken += more;
    if (this.pendingBytes < total) return taken;
    const frame = Buffer.concat(this.pending, total);
    this.pending = [];
    this.pendingBytes = 0;
    onFrame({ type: frame[0] as FrameType, flags: frame[1]!, stream: frame.readUInt32BE(2), payload: frame.subarray(FRAME_HEADER_BYTES) });
    return taken;
  }

  /**
   * Keeps a piece of a partial frame until the rest arrives (the frame is copied together once,
   * when complete). A small piece of a large chunk is copied now, so it does not keep the chunk alive.
   */
  private hold(bytes: Buffer): void {
    this.pending.push(bytes.length * 4 < bytes.buffer.byteLength ? Buffer.from(bytes) : bytes);
    this.pendingBytes += bytes.length;
  }

  /** Bytes of an incomplete frame held for the next push. */
  get buffered(): number {
    return this.pendingBytes;
  }
}

function checkHeader(type: number, flags: number, stream: number, length: number): void {
  if (!KNOWN_TYPES.has(type)) throw new MuxProtocolError(`unknown frame type 0x${type.toString(16)}`);
  if (length > MAX_FRAME_PAYLOAD) throw new MuxProtocolError(`frame of ${length} bytes; at most ${MAX_FRAME_PAYLOAD}`, 1009);
  const sessionFrame = SESSION_TYPES.has(type);
  if (sessionFrame !== (stream === 0)) throw new MuxProtocolError(sessionFrame ? `frame type 0x${type.toString(16)} on stream ${stream}; it belongs to stream 0` : `frame type 0x${type.toString(16)} on stream 0`);
  const allowed = type === FrameType.Data || type === FrameType.Open ? FrameFlag.Text | FrameFlag.More : type === FrameType.Ping ? FrameFlag.Ack : 0;
  if ((flags & ~allowed) !== 0) throw new MuxProtocolError(`unknown flags 0x${flags.toString(16)} on frame type 0x${type.toString(16)}`);
  if (type === FrameType.Ping && length !== 8) throw new MuxProtocolError('ping must carry 8 bytes');
  if (type === FrameType.Window && length !== 4) throw new MuxProtocolError('window update must carry 4 bytes');
  if ((type === FrameType.Fin) && length !== 0) throw new MuxProtocolError('fin carries no payload');
}

const EMPTY = Buffer.alloc(0);
