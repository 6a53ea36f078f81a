import { CloseCode, Opcode } from '../../protocol/websocket-frame.js';
import type { WsConnection } from '../../websocket/connection.js';

/** How one side of a splice ended: the Close it sent (1006 when it sent none). */
export interface SplicedEnd {
  code: number;
  reason: string;
  error?: Error;
}

export interface SpliceResult {
  /** The Close each side sent. */
  relay: SplicedEnd;
  target: SplicedEnd;
  bytesToTarget: number;
  bytesToRelay: number;
}

/**
 * One direction of a splice: every message `from` sends goes to `to` as a message of the same type,
 * its payload streamed as it arrives (a frame per chunk, the last one FIN), so boundaries and types
 * stay as they were. When `to` cannot take more (its socket wants a drain), `from` is not read until
 * it drains: what waits in between is one socket chunk, whatever the peers do.
 */
class SpliceDirection {
  bytes = 0;
  ended: SplicedEnd | undefined;
  private opcode: number = Opcode.Binary;
  private first = true;
  private waitingForDrain = false;

  constructor(
    private readonly from: WsConnection,
    private readonly to: WsConnection,
  ) {}

  start(binary: boolean): void {
    this.opcode = binary ? Opcode.Binary : Opcode.Text;
    this.first = true;
  }

  data(chunk: Buffer): void {
    this.bytes += chunk.length;
    this.frame(chunk, false);
  }

  end(): void {
    this.frame(Buffer.alloc(0), true);
  }

  private frame(payload: Buffer, fin: boolean): void {
    this.to.sendFrame(this.first ? this.opcode : Opcode.Continuation, payload, fin);
    this.first = false;
    if (this.to.writeBlocked && !this.waitingForDrain) {
      this.waitingForDrain = true;
      this.from.pauseReading();
      const resume = () => {
        this.waitingForDrain = false;
        this.to.socket.off('drain', resume);
        this.to.socket.off('close', resume);
        this.from.resumeReading();
      };
      this.to.socket.on('drain', resume);
      this.to.socket.on('close', resume);
    }
  }
}

/**
 * Joins two WebSockets message for message (-H: a relayed WebSocket upgrade and the target's
 * WebSocket): text stays text, binary stays binary, each side's Close (code and reason) goes to the
 * other, and pings are answered by each connection itself. A side that goes away without a Close
 * makes the other get 1001 (its reason says which); one that broke the protocol, 1011.
 */
export function spliceWebSockets(relay: WsConnection, target: WsConnection, heads: { relay: Buffer; target: Buffer }, onEnd: (result: SpliceResult) => void): void {
  const toTarget = new SpliceDirection(relay, target);
  const toRelay = new SpliceDirection(target, relay);
  let closed = 0;
  const wire = (from: WsConnection, to: WsConnection, direction: SpliceDirection, name: string) => {
    from.attach(
      {
        onMessageStart: (binary) => direction.start(binary),
        onMessageData: (chunk) => direction.data(chunk),
        onMessageEnd: () => direction.end(),
        onPeerClose: (code, reason) => {
          direction.ended = { code, reason };
          to.close(code, reason);
        },
        onFailed: (error) => {
          direction.ended ??= { code: CloseCode.Abnormal, reason: '', error };
          to.close(CloseCode.InternalError, `the ${name} broke the WebSocket protocol`);
        },
        onClosed: (code, reason, error) => {
          direction.ended ??= { code, reason, ...(error && { error }) };
          // Nothing more can be delivered here: the other side gets a Close (unless it has one) and its socket ends.
          if (!to.isFinished) to.terminate(CloseCode.GoingAway, `the ${name} went away`);
          if (++closed === 2) onEnd({ relay: toTarget.ended!, target: toRelay.ended!, bytesToTarget: toTarget.bytes, bytesToRelay: toRelay.bytes });
        },
      },
      name === 'client' ? heads.relay : heads.target,
    );
  };
  wire(relay, target, toTarget, 'client');
  wire(target, relay, toRelay, 'target');
}
