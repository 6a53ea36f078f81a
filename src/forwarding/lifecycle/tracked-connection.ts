import type { Logger } from '../../util/logger.js';
import { isNormalEnd, type ConnectionEnd, type ConnectionFields, type ConnectionKind, type ConnectionRole } from './connection-fields.js';

/**
 * Byte counters a pump adds to, one addition per chunk: `toRelay` is what the local side sent into
 * the relay, `fromRelay` what came back. Metrics read them at scrape time.
 */
export interface ByteMeter {
  toRelay: number;
  fromRelay: number;
}

/** The two directions of a hybrid connection, as every log line and the relay's metrics name them. */
export interface DirectedBytes {
  toListener: number;
  toSender: number;
}

export interface OpenConnection {
  role: ConnectionRole;
  kind?: ConnectionKind;
  fields: ConnectionFields;
  /** Cuts the connection: the drain's deadline passed, or the process is going away. */
  abort: () => void;
  /** Where the bytes are counted when not through the meter (the relay counts relayed frames). */
  bytes?: () => DirectedBytes;
}

/** Extra fields of a connection's log line. */
type LineFields = Record<string, string | number | undefined>;

/** How a connection ended, for its closing line and the observers. */
export interface ConnectionOutcome {
  end: ConnectionEnd;
  reason?: string;
  /** More fields for the closing line (close codes, datagram counts). */
  extra?: Record<string, string | number | undefined>;
  /** Log the closing line at debug only (a prewarmed connection that was never used). */
  quiet?: boolean;
}

/** What the lifecycle tells its observers (metrics, events, the dashboard). */
export interface LifecycleObserver {
  opened?(connection: TrackedConnection): void;
  /** Set-up is over (the first payload byte may flow): `setupMs` is known. */
  established?(connection: TrackedConnection): void;
  /** An outbound dial finished (the target, or the relay for a sender); `code` when it failed. */
  dialed?(connection: TrackedConnection, ms: number, code: string | undefined): void;
  ended?(connection: TrackedConnection, outcome: ConnectionOutcome): void;
}

/** What the lifecycle does when a connection ends (implemented by ConnectionLifecycle). */
export interface ConnectionRegistry {
  readonly observers: readonly LifecycleObserver[];
  release(connection: TrackedConnection): void;
}

/**
 * One connection from open to end: who it is (the vocabulary's fields, bound into its own child
 * logger), its byte counters, its set-up time, and the one line that closes it. Ends are idempotent.
 */
export class TrackedConnection implements ByteMeter {
  readonly role: ConnectionRole;
  /** A listener learns from the preamble whether a connection is a stream or a UDP flow. */
  kind: ConnectionKind;
  readonly startedAt = Date.now();
  toRelay = 0;
  fromRelay = 0;
  setupMs: number | undefined;
  private readonly fieldValues: ConnectionFields;
  private childLog: Logger | undefined;
  private outcome: ConnectionOutcome | undefined;

  constructor(
    readonly id: number,
    private readonly parentLog: Logger,
    private readonly registry: ConnectionRegistry,
    private readonly options: OpenConnection,
  ) {
    this.role = options.role;
    this.kind = options.kind ?? 'stream';
    this.fieldValues = { ...options.fields };
  }

  get fields(): Readonly<ConnectionFields> {
    return this.fieldValues;
  }

  get hyco(): string {
    return this.fieldValues.hyco ?? '';
  }

  get trackingId(): string | undefined {
    return this.fieldValues.trackingId;
  }

  /** What the connection is grouped by in metrics: the hybrid connection, and the port name when there is one. */
  get forwarder(): string {
    const { hyco = '', port } = this.fieldValues;
    return port === undefined ? hyco : `${hyco}:${port}`;
  }

  /** The connection's logger: every line carries its fields. */
  get log(): Logger {
    this.childLog ??= this.parentLog.child(definedFields(this.fieldValues));
    return this.childLog;
  }

  /** A debug line with the connection's fields; its child logger is made only when debug is on. */
  debug(fields: Record<string, unknown>, message: string): void {
    this.write('debug', fields, message);
  }

  get isEnded(): boolean {
    return this.outcome !== undefined;
  }

  get bytesToListener(): number {
    if (this.options.bytes) return this.options.bytes().toListener;
    return this.role === 'listener' ? this.fromRelay : this.toRelay;
  }

  get bytesToSender(): number {
    if (this.options.bytes) return this.options.bytes().toSender;
    return this.role === 'listener' ? this.toRelay : this.fromRelay;
  }

  /** Adds what was learned on the way (the tracking id, the port name, the target). */
  update(fields: ConnectionFields): void {
    Object.assign(this.fieldValues, fields);
    this.childLog = undefined;
  }

  /** An outbound dial is over: how long it took, and its failure code if it failed. */
  dialed(ms: number, code?: string): void {
    for (const observer of this.registry.observers) observer.dialed?.(this, ms, code);
  }

  /**
   * Set-up is over and bytes may flow: logs `connection open` with the set-up time (at debug by
   * default; the tunnel commands log it at info, as aztunnel does).
   */
  established(extra: LineFields | (() => LineFields) = {}, level: 'debug' | 'info' = 'debug'): void {
    if (this.setupMs !== undefined || this.outcome) return;
    this.setupMs = Date.now() - this.startedAt;
    // A function is called only when the line is written (its fields may cost a system call).
    if (this.parentLog.isLevelEnabled(level)) this.log[level]({ setupMs: this.setupMs, ...(typeof extra === 'function' ? extra() : extra) }, 'connection open');
    for (const observer of this.registry.observers) observer.established?.(this);
  }

  /** Cuts the connection (its handler then ends it with what it saw). */
  abort(): void {
    this.options.abort();
  }

  /**
   * The connection is over: one line (`connection ended` at info for a normal end, `connection
   * failed` at warn otherwise) with the byte counts, the duration and how it ended.
   */
  end(outcome: ConnectionOutcome): void {
    if (this.outcome) return;
    this.outcome = outcome;
    const level = outcome.quiet ? 'debug' : isNormalEnd(outcome.end) ? 'info' : 'warn';
    const what = this.kind === 'http' ? 'http request' : 'connection';
    if (this.parentLog.isLevelEnabled(level)) this.writeEnd(level, outcome, `${what} ${level === 'warn' ? 'failed' : 'ended'}`);
    this.registry.release(this);
    for (const observer of this.registry.observers) observer.ended?.(this, outcome);
  }

  /** A line through the connection's logger; the logger is made only when the level is on (most quiet lines never are). */
  private write(level: 'debug' | 'info' | 'warn', fields: Record<string, unknown>, message: string): void {
    if (this.parentLog.isLevelEnabled(level)) this.log[level](fields, message);
  }

  private writeEnd(level: 'debug' | 'info' | 'warn', outcome: ConnectionOutcome, message: string): void {
    const line = {
      bytesToListener: this.bytesToListener,
      bytesToSender: this.bytesToSender,
      durationMs: Date.now() - this.startedAt,
      end: outcome.end,
      ...(outcome.reason !== undefined ? { reason: outcome.reason } : {}),
      ...outcome.extra,
    };
    this.log[level](line, message);
  }
}

function definedFields(fields: ConnectionFields): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  for (const [key, value] of Object.entries(fields)) if (value !== undefined) out[key] = value;
  return out;
}
