/**
 * How a hybridge sender asks for a multiplexed session, in the first message of a relayed connection
 * (docs/multiplexing.md). Each hello is built so that a peer which does not know it refuses it
 * cleanly, without dialing anything:
 *
 *   azbridge style:  sender `01 00 4D 00` (mode 0x4D, empty port name); azbridge answers `00 00 00`
 *                    (it accepts only modes 0 and 1); a hybridge listener answers `01 00 4D`.
 *   aztunnel style:  sender `{"version":1,"target":"","hybridge_mux":1}`; aztunnel answers
 *                    "missing target"; a hybridge listener answers `{"version":1,"ok":true,...,"hybridge_mux":1}`.
 *
 * After the acceptance the connection carries mux frames (frame.ts) in binary messages. A listener
 * that takes LONG frames (frame version 2) offers them: azbridge style, its SETTINGS and the offer
 * (a PING ACK) follow the acceptance in the same message; aztunnel style, the acceptance names the
 * largest frame (`hybridge_mux_max_frame`). A version 1 sender ignores both.
 */
import type { RelayedMessage } from '../client/hybrid-connection-stream.js';
import { ENVELOPE_VERSION, MAX_ENVELOPE_BYTES } from '../protocol/aztunnel-envelope.js';
import { decodeLongFrameOffer, FRAME_HEADER_BYTES, FrameFlag, FrameType, MAX_FRAME_PAYLOAD, MAX_LONG_FRAME } from './frame.js';

export type HelloStyle = 'azbridge' | 'aztunnel';

/** Mode byte of the azbridge-style hello ('M'). */
export const MUX_PREAMBLE_MODE = 0x4d;
const PREAMBLE_HELLO = Buffer.from([0x01, 0x00, MUX_PREAMBLE_MODE, 0x00]);
const PREAMBLE_ACCEPT = Buffer.from([0x01, 0x00, MUX_PREAMBLE_MODE]);
/** The envelope field that asks for (and acknowledges) a session; its value is the mux version. */
export const MUX_ENVELOPE_FIELD = 'hybridge_mux';
export const MUX_VERSION = 1;
/** The aztunnel-style acceptance's offer of LONG frames: the largest payload the listener takes. */
export const MUX_MAX_FRAME_FIELD = 'hybridge_mux_max_frame';

/** The sender's first message. */
export function muxHello(style: HelloStyle): string | Buffer {
  if (style === 'azbridge') return Buffer.from(PREAMBLE_HELLO);
  return JSON.stringify({ version: ENVELOPE_VERSION, target: '', [MUX_ENVELOPE_FIELD]: MUX_VERSION });
}

/**
 * The listener's acceptance. Azbridge style it is the start of the session's first message (the
 * session's SETTINGS and offer follow in it); aztunnel style a text message of its own that offers
 * LONG frames up to `maxFrame` when that is above 16 KiB.
 */
export function muxAccept(style: HelloStyle, listenerId?: string, maxFrame = MAX_FRAME_PAYLOAD): string | Buffer {
  if (style === 'azbridge') return Buffer.from(PREAMBLE_ACCEPT);
  const wire: Record<string, unknown> = { version: ENVELOPE_VERSION, ok: true };
  if (listenerId) wire.listener_id = listenerId;
  wire[MUX_ENVELOPE_FIELD] = MUX_VERSION;
  if (maxFrame > MAX_FRAME_PAYLOAD) wire[MUX_MAX_FRAME_FIELD] = maxFrame;
  return JSON.stringify(wire);
}

/** Listener side: which hello a first message is, if it is one. */
export function muxHelloStyle(first: RelayedMessage): HelloStyle | undefined {
  if (first.binary) return first.data.equals(PREAMBLE_HELLO) ? 'azbridge' : undefined;
  const value = boundedJson(first.data);
  if (value === undefined || value.version !== ENVELOPE_VERSION || value[MUX_ENVELOPE_FIELD] !== MUX_VERSION) return undefined;
  return 'aztunnel';
}

export interface MuxAcceptance {
  accepted: boolean;
  /** Bytes that followed the acceptance in the same message: mux frames. */
  rest?: Buffer;
  /** The listener's offer of LONG frames (their largest payload), if it made one. */
  peerMaxFrame?: number;
}

/** Sender side: whether the listener's answer accepts the session, and whether it offers LONG frames. */
export function muxAccepted(style: HelloStyle, answer: RelayedMessage | undefined): MuxAcceptance {
  if (!answer) return { accepted: false };
  if (style === 'azbridge') {
    if (!answer.binary || answer.data.length < 3 || !answer.data.subarray(0, 3).equals(PREAMBLE_ACCEPT)) return { accepted: false };
    const rest = answer.data.subarray(3);
    return { accepted: true, rest, peerMaxFrame: offerBehindSettings(rest) };
  }
  if (answer.binary) return { accepted: false };
  const value = boundedJson(answer.data);
  if (value === undefined || value.ok !== true || value[MUX_ENVELOPE_FIELD] !== MUX_VERSION) return { accepted: false };
  const maxFrame = value[MUX_MAX_FRAME_FIELD];
  const offered = typeof maxFrame === 'number' && Number.isInteger(maxFrame) && maxFrame > MAX_FRAME_PAYLOAD && maxFrame <= MAX_LONG_FRAME;
  return { accepted: true, ...(offered && { peerMaxFrame: maxFrame }) };
}

/** The maxFrame of an offer right behind the listener's SETTINGS (8-byte payload) at the start of `frames`. */
function offerBehindSettings(frames: Buffer): number | undefined {
  const settings = FRAME_HEADER_BYTES + 8;
  if (frames.length < settings + FRAME_HEADER_BYTES + 8 || frames[0] !== FrameType.Settings || frames.readUInt16BE(6) !== 8) return undefined;
  const ping = frames.subarray(settings, settings + FRAME_HEADER_BYTES + 8);
  if (ping[0] !== FrameType.Ping || ping[1] !== FrameFlag.Ack || ping.readUInt32BE(2) !== 0 || ping.readUInt16BE(6) !== 8) return undefined;
  return decodeLongFrameOffer(ping.subarray(FRAME_HEADER_BYTES));
}

function boundedJson(data: Buffer): Record<string, unknown> | undefined {
  if (data.length > MAX_ENVELOPE_BYTES) return undefined;
  try {
    const value: unknown = JSON.parse(data.toString('utf8'));
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
