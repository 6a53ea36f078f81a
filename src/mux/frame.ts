/**
 * hybridge's multiplexing frames (docs/multiplexing.md), no I/O. Every frame is an 8-byte header
 * `type u8 | flags u8 | stream u32 | length u16` (big-endian) and `length` payload bytes; a DATA or
 * OPEN frame with the LONG flag (frame version 2, only towards a peer that announced it) has a
 * 10-byte header whose length is a u32. The frames travel as a byte stream inside the binary
 * messages of one relayed connection: a message may hold several frames and a frame may span
 * messages.
 */
import { truncateUtf8 } from '../util/truncate-utf8.js';

export const FRAME_HEADER_BYTES = 8;
/** Header of a LONG DATA/OPEN frame: the length is a u32. */
export const LONG_FRAME_HEADER_BYTES = 10;
/** Largest payload of a frame without the LONG flag (every frame of frame version 1). */
export const MAX_FRAME_PAYLOAD = 16 * 1024;
/** Largest LONG frame payload a side may announce (SETTINGS `maxFrame`, the acceptor's offer). */
export const MAX_LONG_FRAME = 16 * 1024 * 1024;
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
  /** DATA/OPEN (frame version 2): the header's length is a u32 (10-byte header). */
  Long: 0x04,
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
  /**
   * Largest LONG frame payload the sender of the frame accepts (frame version 2; only in the
   * initiator's SETTINGS, and only towards an acceptor that offered LONG frames). Absent: none.
   */
  maxFrame?: number;
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

/**
 * The header alone, for a payload written separately (data frames, without copying the data). A
 * payload above MAX_FRAME_PAYLOAD gets the LONG form (the caller checked that the peer takes it).
 */
export function encodeHeader(type: FrameType, flags: number, stream: number, length: number): Buffer {
  if (length <= MAX_FRAME_PAYLOAD) {
    const out = Buffer.allocUnsafe(FRAME_HEADER_BYTES);
    writeHeader(out, type, flags, stream, length);
    return out;
  }
  const out = Buffer.allocUnsafe(LONG_FRAME_HEADER_BYTES);
  out[0] = type;
  out[1] = flags | FrameFlag.Long;
  out.writeUInt32BE(stream, 2);
  out.writeUInt32BE(length, 6);
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
  const payload = Buffer.allocUnsafe(settings.maxFrame === undefined ? 8 : 12);
  payload.writeUInt32BE(settings.window, 0);
  payload.writeUInt32BE(settings.maxStreams, 4);
  if (settings.maxFrame !== undefined) payload.writeUInt32BE(settings.maxFrame, 8);
  return encodeFrame(FrameType.Settings, 0, 0, payload);
}

/** Marks the acceptor's offer of LONG frames: a PING with the ACK flag, `'hbmx' | maxFrame u32`. */
const OFFER_TAG = 0x68626d78; // 'hbmx'

/**
 * The acceptor's offer of frame version 2, sent right behind its SETTINGS in the acceptance: an
 * unsolicited PING ACK, which a version 1 initiator ignores (it matches none of its probes).
 */
export function encodeLongFrameOffer(maxFrame: number): Buffer {
  const payload = Buffer.allocUnsafe(8);
  payload.writeUInt32BE(OFFER_TAG, 0);
  payload.writeUInt32BE(maxFrame, 4);
  return encodePing(true, payload);
}

/** The maxFrame of an offer (a PING ACK payload), or undefined when the payload is not one. */
export function decodeLongFrameOffer(payload: Buffer): number | undefined {
  if (payload.length !== 8 || payload.readUInt32BE(0) !== OFFER_TAG) return undefined;
  const maxFrame = payload.readUInt32BE(4);
  return maxFrame > MAX_FRAME_PAYLOAD && maxFrame <= MAX_LONG_FRAME ? maxFrame : undefined;
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

/** A SETTINGS payload; `long` when the peer may send the 12-byte form (we offered LONG frames). */
export function decodeSettings(payload: Buffer, long = false): Settings {
  if (payload.length !== 8 && !(long && payload.length === 12)) throw new MuxProtocolError(long ? 'settings frame must carry 8 or 12 bytes' : 'settings frame must carry 8 bytes');
  const window = payload.readUInt32BE(0);
  const maxStreams = payload.readUInt32BE(4);
  if (window < MAX_FRAME_PAYLOAD || window > MAX_WINDOW) throw new MuxProtocolError(`window ${window} outside ${MAX_FRAME_PAYLOAD}..${MAX_WINDOW}`);
  if (maxStreams < 1) throw new MuxProtocolError('max streams must be at least 1');
  if (payload.length === 8) return { window, maxStreams };
  const maxFrame = payload.readUInt32BE(8);
  if (maxFrame <= MAX_FRAME_PAYLOAD || maxFrame > MAX_LONG_FRAME) throw new MuxProtocolError(`max frame ${maxFrame} outside ${MAX_FRAME_PAYLOAD + 1}..${MAX_LONG_FRAME}`);
  return { window, maxStreams, maxFrame };
}

/** Largest window or credit a stream can hold (2^31 - 1, as HTTP/2). */
export const MAX_WINDOW = 0x7fffffff;


const KNOWN_TYPES = new Set<number>(Object.values(FrameType));
/** Frames that belong to the session (stream 0) and those that belong to a stream (id > 0). */
const SESSION_TYPES = new Set<number>([FrameType.Ping, FrameType.GoAway, FrameType.Settings]);

/** What a FrameDecoder hands its frames to. */
export interface FrameSink {
  /** A whole frame other than DATA/OPEN (payload at most 16 KiB). */
  onFrame(frame: Frame): void;
  /** A DATA or OPEN frame begins; its payload follows in onPayload pieces (none when `length` is 0), then onDataEnd. */
  onDataStart(type: FrameType, flags: number, stream: number, length: number): void;
  /** Bytes of the current DATA/OPEN payload, as a view of the pushed chunk (never copied). */
  onPayload(piece: Buffer): void;
  onDataEnd(): void;
}

/**
 * Cuts a byte stream into frames. Checks what a frame can be checked for alone (type, flags, length,
 * which types need stream 0) from its header; push() throws MuxProtocolError on the first bad frame.
 * DATA/OPEN payloads are handed on as they arrive, as views of the pushed chunks, so a large frame is
 * neither held nor copied; only a partial header and a partial control frame (at most 16 KiB) are
 * held between pushes.
 */
export class FrameDecoder {
  /** Largest LONG frame payload accepted; 0 refuses the LONG flag (frame version 1). */
  maxLongFrame = 0;
  private readonly header = Buffer.alloc(LONG_FRAME_HEADER_BYTES);
  private headerBytes = 0;
  /** Payload bytes of the current DATA/OPEN frame still to come; -1 outside one. */
  private dataLeft = -1;
  private control: { type: FrameType; flags: number; stream: number; length: number; parts: Buffer[]; got: number } | undefined;

  constructor(maxLongFrame = 0) {
    this.maxLongFrame = maxLongFrame;
  }

  push(chunk: Buffer, sink: FrameSink): void {
    let offset = 0;
    const end = chunk.length;
    while (offset < end) {
      if (this.dataLeft > 0) {
        const n = Math.min(this.dataLeft, end - offset);
        this.dataLeft -= n;
        sink.onPayload(chunk.subarray(offset, offset + n));
        offset += n;
        if (this.dataLeft === 0) this.endData(sink);
        continue;
      }
      if (this.control) {
        offset = this.collectControl(chunk, offset, sink);
        continue;
      }
      let source: Buffer;
      let at: number;
      if (this.headerBytes === 0 && end - offset >= LONG_FRAME_HEADER_BYTES) {
        source = chunk;
        at = offset;
      } else {
        // A header cut by the end of a chunk: gather its bytes first.
        const need = this.headerBytes < 2 ? 2 : (this.header[1]! & FrameFlag.Long) !== 0 && isData(this.header[0]!) ? LONG_FRAME_HEADER_BYTES : FRAME_HEADER_BYTES;
        const n = Math.min(need - this.headerBytes, end - offset);
        chunk.copy(this.header, this.headerBytes, offset, offset + n);
        this.headerBytes += n;
        offset += n;
        if (this.headerBytes < need || need === 2) continue;
        source = this.header;
        at = 0;
      }
      const type = source[at]!;
      const flags = source[at + 1]!;
      const long = (flags & FrameFlag.Long) !== 0 && isData(type);
      const stream = source.readUInt32BE(at + 2);
      const length = long ? source.readUInt32BE(at + 6) : source.readUInt16BE(at + 6);
      this.checkHeader(type, flags, stream, length, long);
      if (source === chunk) offset += long ? LONG_FRAME_HEADER_BYTES : FRAME_HEADER_BYTES;
      this.headerBytes = 0;
      if (isData(type)) {
        this.dataLeft = length;
        sink.onDataStart(type as FrameType, flags & ~FrameFlag.Long, stream, length);
        if (length === 0) this.endData(sink);
      } else {
        this.control = { type: type as FrameType, flags, stream, length, parts: [], got: 0 };
        if (length === 0) offset = this.collectControl(chunk, offset, sink);
      }
    }
  }

  private endData(sink: FrameSink): void {
    this.dataLeft = -1;
    sink.onDataEnd();
  }

  /** Adds bytes of `chunk` from `offset` to the control frame being read; emits it once whole. Returns the new offset. */
  private collectControl(chunk: Buffer, offset: number, sink: FrameSink): number {
    const frame = this.control!;
    const n = Math.min(frame.length - frame.got, chunk.length - offset);
    if (n > 0) {
      // Control frames are small: copied, so they never keep a large chunk alive.
      frame.parts.push(Buffer.from(chunk.subarray(offset, offset + n)));
      frame.got += n;
    }
    if (frame.got < frame.length) return offset + n;
    this.control = undefined;
    const payload = frame.parts.length === 1 ? frame.parts[0]! : Buffer.concat(frame.parts, frame.length);
    sink.onFrame({ type: frame.type, flags: frame.flags, stream: frame.stream, payload });
    return offset + n;
  }

  private checkHeader(type: number, flags: number, stream: number, length: number, long: boolean): void {
    if (!KNOWN_TYPES.has(type)) throw new MuxProtocolError(`unknown frame type 0x${type.toString(16)}`);
    const data = isData(type);
    if (long) {
      if (this.maxLongFrame === 0) throw new MuxProtocolError(`unknown flags 0x${flags.toString(16)} on frame type 0x${type.toString(16)}`);
      if (length > this.maxLongFrame) throw new MuxProtocolError(`frame of ${length} bytes; at most ${this.maxLongFrame}`, 1009);
    } else if (length > MAX_FRAME_PAYLOAD) throw new MuxProtocolError(`frame of ${length} bytes; at most ${MAX_FRAME_PAYLOAD}`, 1009);
    const sessionFrame = SESSION_TYPES.has(type);
    if (sessionFrame !== (stream === 0)) throw new MuxProtocolError(sessionFrame ? `frame type 0x${type.toString(16)} on stream ${stream}; it belongs to stream 0` : `frame type 0x${type.toString(16)} on stream 0`);
    const allowed = data ? FrameFlag.Text | FrameFlag.More | (this.maxLongFrame > 0 ? FrameFlag.Long : 0) : type === FrameType.Ping ? FrameFlag.Ack : 0;
    if ((flags & ~allowed) !== 0) throw new MuxProtocolError(`unknown flags 0x${flags.toString(16)} on frame type 0x${type.toString(16)}`);
    if (type === FrameType.Ping && length !== 8) throw new MuxProtocolError('ping must carry 8 bytes');
    if (type === FrameType.Window && length !== 4) throw new MuxProtocolError('window update must carry 4 bytes');
    if (type === FrameType.Fin && length !== 0) throw new MuxProtocolError('fin carries no payload');
  }

  /** Bytes of an incomplete header or control frame held for the next push. */
  get buffered(): number {
    return this.headerBytes + (this.control?.got ?? 0);
  }
}

function isData(type: number): boolean {
  return type === FrameType.Data || type === FrameType.Open;
}

const EMPTY = Buffer.alloc(0);
