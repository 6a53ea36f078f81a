/**
 * azbridge's stream preamble (reference/azbridge.md §3.2). It travels inside the relayed byte stream,
 * before any payload:
 *
 *   sender → listener:  01 00 mode len name[len]     mode 0 = stream (TCP, Unix), 1 = datagram (UDP)
 *   listener → sender:  01 00 mode                   accepted, mode echoed; raw data follows
 *                       00 00 00                     unsupported version (only 01 00 00 / 01 00 01 exist)
 *                       00 00 01                     stream requested, but the target is UDP
 *                       00 00 FF                     datagram requested, but the target is not UDP
 *
 * hybridge adds two error replies of its own, so a local side learns why it was refused instead of
 * seeing a bare EOF (azbridge issue #10):
 *
 *                       00 00 FE len reason[len]     no forwarder for the requested port name
 *                       00 00 FD len reason[len]     the target could not be reached
 *
 * `reason` is UTF-8 text for logs (at most 255 bytes; may be empty). An azbridge local side reads
 * exactly three reply bytes and closes unless they are `01 00 mode`, so it treats both as a refusal
 * and never looks at the bytes after the third.
 */

import { truncateUtf8 } from '../util/truncate-utf8.js';

export const PREAMBLE_MAJOR = 1;
export const PREAMBLE_MINOR = 0;
export const MAX_PORT_NAME_BYTES = 255;
export const MAX_REASON_BYTES = 255;

export const PreambleMode = { Stream: 0, Datagram: 1 } as const;
export type PreambleMode = (typeof PreambleMode)[keyof typeof PreambleMode];

/** The third byte of a refusal (`00 00 code`). */
export const ReplyCode = {
  UnsupportedVersion: 0x00,
  TargetIsDatagram: 0x01,
  TargetIsStream: 0xff,
  UnknownPortName: 0xfe,
  TargetUnreachable: 0xfd,
} as const;

export interface Preamble {
  mode: PreambleMode;
  portName: string;
}

export type PreambleReply =
  | { kind: 'accepted'; mode: PreambleMode }
  | { kind: 'unsupported-version' }
  /** Stream requested, but the port name belongs to a UDP forwarder (`00 00 01`). */
  | { kind: 'target-is-datagram' }
  /** Datagram requested, but the port name belongs to a stream forwarder (`00 00 FF`). */
  | { kind: 'target-is-stream' }
  | { kind: 'unknown-port-name'; reason: string }
  | { kind: 'target-unreachable'; reason: string }
  /** Three bytes no known peer sends. */
  | { kind: 'unrecognized'; bytes: Buffer };

export class PreambleError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PreambleError';
  }
}

export function encodePreamble(preamble: Preamble): Buffer {
  assertMode(preamble.mode);
  const name = Buffer.from(preamble.portName, 'utf8');
  if (name.length === 0) throw new PreambleError('port name is empty');
  if (name.length > MAX_PORT_NAME_BYTES) {
    throw new PreambleError(`port name is ${name.length} bytes long; the preamble carries at most ${MAX_PORT_NAME_BYTES}`);
  }
  const out = Buffer.allocUnsafe(4 + name.length);
  out[0] = PREAMBLE_MAJOR;
  out[1] = PREAMBLE_MINOR;
  out[2] = preamble.mode;
  out[3] = name.length;
  name.copy(out, 4);
  return out;
}

export function encodePreambleReply(reply: PreambleReply): Buffer {
  switch (reply.kind) {
    case 'accepted':
      assertMode(reply.mode);
      return Buffer.from([PREAMBLE_MAJOR, PREAMBLE_MINOR, reply.mode]);
    case 'unsupported-version':
      return Buffer.from([0, 0, ReplyCode.UnsupportedVersion]);
    case 'target-is-datagram':
      return Buffer.from([0, 0, ReplyCode.TargetIsDatagram]);
    case 'target-is-stream':
      return Buffer.from([0, 0, ReplyCode.TargetIsStream]);
    case 'unknown-port-name':
      return withReason(ReplyCode.UnknownPortName, reply.reason);
    case 'target-unreachable':
      return withReason(ReplyCode.TargetUnreachable, reply.reason);
    case 'unrecognized':
      if (reply.bytes.length !== 3) throw new PreambleError('an unrecognized reply is exactly 3 bytes');
      return Buffer.from(reply.bytes);
  }
}

/** True when `reply` lets a connection that asked for `mode` start sending data. */
export function isAcceptedFor(reply: PreambleReply, mode: PreambleMode): boolean {
  return reply.kind === 'accepted' && reply.mode === mode;
}

/** One line for logs: why the listener refused (or that it accepted). */
export function describePreambleReply(reply: PreambleReply): string {
  switch (reply.kind) {
    case 'accepted':
      return `accepted (${reply.mode === PreambleMode.Datagram ? 'datagram' : 'stream'})`;
    case 'unsupported-version':
      return 'the listener does not support preamble version 1.0';
    case 'target-is-datagram':
      return 'the port name belongs to a UDP forwarder, but a stream was requested';
    case 'target-is-stream':
      return 'the port name belongs to a stream forwarder, but UDP was requested';
    case 'unknown-port-name':
      return reply.reason ? `unknown port name: ${reply.reason}` : 'unknown port name';
    case 'target-unreachable':
      return reply.reason ? `target unreachable: ${reply.reason}` : 'target unreachable';
    case 'unrecognized':
      return `unrecognized reply ${reply.bytes.toString('hex')}`;
  }
}

export type DecodeStep<T> =
  | { status: 'incomplete' }
  /** `rest` holds the bytes after the preamble or reply: the start of the payload. */
  | { status: 'complete'; value: T; rest: Buffer };

/** What a listener makes of the sender's first bytes. */
export type PreambleDecodeValue =
  | { ok: true; preamble: Preamble }
  /** Answer `00 00 00` and close: the version or mode is not 1.0 stream/datagram. */
  | { ok: false; problem: 'unsupported-version'; bytes: Buffer }
  /** The port name is not valid UTF-8; no forwarder can match it. */
  | { ok: false; problem: 'invalid-port-name' };

/**
 * The buffering both preamble decoders share: chunks are collected until a whole value can be read;
 * then the decoder is spent and the bytes after the value are handed back as `rest`.
 */
abstract class ChunkedDecoder<T> {
  protected buffered = Buffer.alloc(0);
  protected done = false;

  /** Adds `chunk` to what has been buffered and returns all of it. */
  protected append(chunk: Uint8Array, what: string): Buffer {
    if (this.done) throw new PreambleError(`${what} already decoded`);
    this.buffered = this.buffered.length === 0 ? Buffer.from(chunk) : Buffer.concat([this.buffered, chunk]);
    return this.buffered;
  }

  protected finish(value: T, consumed: number): DecodeStep<T> {
    this.done = true;
    const rest = this.buffered.subarray(consumed);
    this.buffered = Buffer.alloc(0);
    return { status: 'complete', value, rest };
  }
}

/**
 * Reads a preamble from a byte stream delivered in chunks of any size. Feed chunks to `push` until it
 * returns `complete`; after that the decoder is spent. A bad version is reported after three bytes,
 * without waiting for a name that may never come.
 */
export class PreambleDecoder extends ChunkedDecoder<PreambleDecodeValue> {
  push(chunk: Uint8Array): DecodeStep<PreambleDecodeValue> {
    const b = this.append(chunk, 'preamble');
    if (b.length < 3) return { status: 'incomplete' };
    const mode = b[2];
    if (b[0] !== PREAMBLE_MAJOR || b[1] !== PREAMBLE_MINOR || (mode !== PreambleMode.Stream && mode !== PreambleMode.Datagram)) {
      return this.finish({ ok: false, problem: 'unsupported-version', bytes: Buffer.from(b.subarray(0, 3)) }, 3);
    }
    if (b.length < 4) return { status: 'incomplete' };
    const end = 4 + b[3];
    if (b.length < end) return { status: 'incomplete' };
    let portName: string;
    try {
      portName = new TextDecoder('utf-8', { fatal: true }).decode(b.subarray(4, end));
    } catch {
      return this.finish({ ok: false, problem: 'invalid-port-name' }, end);
    }
    return this.finish({ ok: true, preamble: { mode, portName } }, end);
  }
}

/**
 * Reads the listener's reply. azbridge's replies are three bytes; hybridge's `00 00 FE` / `00 00 FD`
 * carry a length byte and a reason after them. If the stream ends in the middle of a reason, call
 * `end()` to take the reply with the part of the reason that arrived.
 */
export class PreambleReplyDecoder extends ChunkedDecoder<PreambleReply> {
  push(chunk: Uint8Array): DecodeStep<PreambleReply> {
    const b = this.append(chunk, 'reply');
    if (b.length < 3) return { status: 'incomplete' };
    if (!carriesReason(b)) return this.finish(classify(b.subarray(0, 3)), 3);
    if (b.length < 4) return { status: 'incomplete' };
    const end = 4 + b[3];
    if (b.length < end) return { status: 'incomplete' };
    return this.finish(reasonReply(b[2], b.subarray(4, end)), end);
  }

  /** The stream ended: the reply if enough of it arrived to know what it is, else undefined. */
  end(): PreambleReply | undefined {
    if (this.done) return undefined;
    const b = this.buffered;
    if (b.length < 3) return undefined;
    this.done = true;
    const available = b.length >= 4 ? b.subarray(4, Math.min(b.length, 4 + b[3])) : Buffer.alloc(0);
    return reasonReply(b[2], available);
  }
}

function carriesReason(b: Buffer): boolean {
  return b[0] === 0 && b[1] === 0 && (b[2] === ReplyCode.UnknownPortName || b[2] === ReplyCode.TargetUnreachable);
}

function classify(bytes: Buffer): PreambleReply {
  const [a, b, c] = [bytes[0], bytes[1], bytes[2]];
  if (a === PREAMBLE_MAJOR && b === PREAMBLE_MINOR && (c === PreambleMode.Stream || c === PreambleMode.Datagram)) {
    return { kind: 'accepted', mode: c };
  }
  if (a === 0 && b === 0) {
    if (c === ReplyCode.UnsupportedVersion) return { kind: 'unsupported-version' };
    if (c === ReplyCode.TargetIsDatagram) return { kind: 'target-is-datagram' };
    if (c === ReplyCode.TargetIsStream) return { kind: 'target-is-stream' };
  }
  return { kind: 'unrecognized', bytes: Buffer.from(bytes) };
}

function reasonReply(code: number, reasonBytes: Buffer): PreambleReply {
  // A reason cut off by end() may end inside a character; the replacement character is fine in a log line.
  const reason = reasonBytes.toString('utf8');
  return code === ReplyCode.UnknownPortName ? { kind: 'unknown-port-name', reason } : { kind: 'target-unreachable', reason };
}

function withReason(code: number, reason: string): Buffer {
  const text = truncateUtf8(reason, MAX_REASON_BYTES);
  const out = Buffer.allocUnsafe(4 + text.length);
  out[0] = 0;
  out[1] = 0;
  out[2] = code;
  out[3] = text.length;
  text.copy(out, 4);
  return out;
}

function assertMode(mode: number): void {
  if (mode !== PreambleMode.Stream && mode !== PreambleMode.Datagram) {
    throw new PreambleError(`preamble mode must be 0 (stream) or 1 (datagram), not ${mode}`);
  }
}
