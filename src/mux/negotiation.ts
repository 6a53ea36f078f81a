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
 * After the acceptance the connection carries mux frames (frame.ts) in binary messages.
 */
import type { RelayedMessage } from '../client/hybrid-connection-stream.js';
import { ENVELOPE_VERSION, MAX_ENVELOPE_BYTES } from '../protocol/aztunnel-envelope.js';

export type HelloStyle = 'azbridge' | 'aztunnel';

/** Mode byte of the azbridge-style hello ('M'). */
export const MUX_PREAMBLE_MODE = 0x4d;
const PREAMBLE_HELLO = Buffer.from([0x01, 0x00, MUX_PREAMBLE_MODE, 0x00]);
const PREAMBLE_ACCEPT = Buffer.from([0x01, 0x00, MUX_PREAMBLE_MODE]);
/** The envelope field that asks for (and acknowledges) a session; its value is the mux version. */
export const MUX_ENVELOPE_FIELD = 'hybridge_mux';
export const MUX_VERSION = 1;

/** The sender's first message. */
export function muxHello(style: HelloStyle): string | Buffer {
  if (style === 'azbridge') return Buffer.from(PREAMBLE_HELLO);
  return JSON.stringify({ version: ENVELOPE_VERSION, target: '', [MUX_ENVELOPE_FIELD]: MUX_VERSION });
}

/** The listener's acceptance. */
export function muxAccept(style: HelloStyle, listenerId?: string): string | Buffer {
  if (style === 'azbridge') return Buffer.from(PREAMBLE_ACCEPT);
  const wire: Record<string, unknown> = { version: ENVELOPE_VERSION, ok: true };
  if (listenerId) wire.listener_id = listenerId;
  wire[MUX_ENVELOPE_FIELD] = MUX_VERSION;
  return JSON.stringify(wire);
}

/** Listener side: which hello a first message is, if it is one. */
export function muxHelloStyle(first: RelayedMessage): HelloStyle | undefined {
  if (first.binary) return first.data.equals(PREAMBLE_HELLO) ? 'azbridge' : undefined;
  const value = boundedJson(first.data);
  if (value === undefined || value.version !== ENVELOPE_VERSION || value[MUX_ENVELOPE_FIELD] !== MUX_VERSION) return undefined;
  return 'aztunnel';
}

/**
 * Sender side: whether the listener's answer accepts the session. Bytes that followed the acceptance
 * in the same message (mux frames) come back as `rest`.
 */
export function muxAccepted(style: HelloStyle, answer: RelayedMessage | undefined): { accepted: boolean; rest?: Buffer } {
  if (!answer) return { accepted: false };
  if (style === 'azbridge') {
    if (!answer.binary || answer.data.length < 3 || !answer.data.subarray(0, 3).equals(PREAMBLE_ACCEPT)) return { accepted: false };
    return { accepted: true, rest: answer.data.subarray(3) };
  }
  if (answer.binary) return { accepted: false };
  const value = boundedJson(answer.data);
  return { accepted: value !== undefined && value.ok === true && value[MUX_ENVELOPE_FIELD] === MUX_VERSION };
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
