import { isUtf8 } from 'node:buffer';
import { CloseCode, WebSocketProtocolError } from '../protocol/websocket-frame.js';

export interface MessageLimits {
  /** Largest message accepted (text or binary); above it the connection is closed with 1009. */
  maxMessageBytes?: number;
  /** Largest text message; defaults to maxMessageBytes (1 MiB for collected text when neither is set). */
  maxTextMessageBytes?: number;
  /** Collected text messages and Close reasons must be valid UTF-8 (1007 otherwise). */
  validateUtf8?: boolean;
}

/** Whole text messages are collected up to this size when no limit is given. */
export const DEFAULT_MAX_TEXT_MESSAGE_BYTES = 1024 * 1024;

/**
 * The connection's view of incoming messages: counts each message against the limits and, for a
 * handler that takes whole text messages, collects them (bounded) and checks their UTF-8. Limit
 * breaches throw WebSocketProtocolError, which fails the connection with the error's close code.
 */
export class InboundMessages {
  private maxBinary: number;
  private maxText: number;
  private binary = false;
  private size = 0;
  private text: Buffer[] | undefined;

  constructor(
    limits: MessageLimits,
    private readonly validateUtf8: boolean,
  ) {
    this.maxBinary = limits.maxMessageBytes ?? Number.POSITIVE_INFINITY;
    this.maxText = limits.maxTextMessageBytes ?? limits.maxMessageBytes ?? Number.POSITIVE_INFINITY;
  }

  /** Replaces the limit for every message (undefined lifts it), e.g. once a stream reads bytes instead of messages. */
  setLimit(maxMessageBytes: number | undefined): void {
    this.maxBinary = maxMessageBytes ?? Number.POSITIVE_INFINITY;
    this.maxText = this.maxBinary;
  }

  /** A new message begins; `collect` says whether its text is gathered for a whole-message callback. */
  start(binary: boolean, collect: boolean): void {
    this.binary = binary;
    this.size = 0;
    this.text = !binary && collect ? [] : undefined;
  }

  get collecting(): boolean {
    return this.text !== undefined;
  }

  /** Counts a payload chunk; returns false when the chunk was collected rather than handed on. */
  data(chunk: Buffer): boolean {
    this.size += chunk.length;
    if (this.binary) {
      if (this.size > this.maxBinary) throw tooBig(this.maxBinary);
      return true;
    }
    const limit = this.text ? collectedTextLimit(this.maxText) : this.maxText;
    if (this.size > limit) throw tooBig(limit);
    if (!this.text) return true;
    this.text.push(Buffer.from(chunk));
    return false;
  }

  /** The message ended: the collected text, or undefined when nothing was collected. */
  end(): string | undefined {
    const parts = this.text;
    this.text = undefined;
    if (!parts) return undefined;
    const bytes = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
    if (this.validateUtf8 && !isUtf8(bytes)) throw new WebSocketProtocolError('text message is not valid UTF-8', CloseCode.InvalidPayload);
    return bytes.toString('utf8');
  }

  checkCloseReason(reason: Buffer): void {
    if (this.validateUtf8 && !isUtf8(reason)) throw new WebSocketProtocolError('close reason is not valid UTF-8', CloseCode.InvalidPayload);
  }
}

/** Collected text is always bounded, even when the connection sets no limit of its own. */
function collectedTextLimit(limit: number): number {
  return Number.isFinite(limit) ? limit : DEFAULT_MAX_TEXT_MESSAGE_BYTES;
}

function tooBig(limit: number): WebSocketProtocolError {
  return new WebSocketProtocolError(`message larger than ${limit} bytes`, CloseCode.MessageTooBig);
}
