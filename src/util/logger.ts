import { createWriteStream, type WriteStream } from 'node:fs';
import { pino, type Logger, type LevelWithSilent } from 'pino';

export type { Logger };
export type LogFormat = 'text' | 'json';

export interface LoggerOptions {
  level?: LevelWithSilent;
  format?: LogFormat;
  /** Append to this file instead of writing to stderr. */
  file?: string;
  name?: string;
}

const LEVEL_NAMES: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
const OMITTED = new Set(['level', 'time', 'msg', 'pid', 'hostname', 'name']);

/** Renders pino's JSON records as one readable line: `time LEVEL message key=value ...`. */
export function formatTextRecord(line: string): string {
  let record: Record<string, unknown>;
  try {
    record = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line;
  }
  const time = typeof record.time === 'number' ? new Date(record.time).toISOString() : '';
  const level = LEVEL_NAMES[record.level as number] ?? String(record.level);
  const fields = Object.entries(record)
    .filter(([k, v]) => !OMITTED.has(k) && v !== undefined)
    .map(([k, v]) => `${k}=${formatValue(v)}`);
  const message = typeof record.msg === 'string' ? escapeControls(record.msg) : '';
  return [time, level.padEnd(5), message, ...fields].filter((p) => p !== '').join(' ') + '\n';
}

/**
 * Characters that must never reach a terminal or a log viewer raw (they can rewrite what is shown:
 * ESC sequences, backspace, carriage return, bidirectional overrides): C0 and C1 controls, DEL,
 * line and paragraph separators, and the bidi formatting characters. Client-chosen text (URL paths,
 * reasons) lands in log fields.
 */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const UNSAFE_CHARS = /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

function escapeControls(text: string): string {
  return text.replace(UNSAFE_CHARS, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

function formatValue(value: unknown): string {
  if (typeof value === 'string') return /[\s="]/.test(value) || value === '' || hasUnsafe(value) ? escapeControls(JSON.stringify(value)) : value;
  if (value instanceof Object) return escapeControls(JSON.stringify(value));
  return String(value);
}

function hasUnsafe(text: string): boolean {
  UNSAFE_CHARS.lastIndex = 0;
  return UNSAFE_CHARS.test(text);
}

/** Log files opened by createLogger, reopened together by reopenLogFiles(). */
const logFiles: ReopenableFile[] = [];

/** A log file that can be reopened at its path (after logrotate renamed it). */
class ReopenableFile {
  private stream: WriteStream;

  constructor(private readonly path: string) {
    this.stream = this.open();
  }

  write(text: string): boolean {
    return this.stream.write(text);
  }

  reopen(): void {
    const old = this.stream;
    this.stream = this.open();
    old.end();
  }

  private open(): WriteStream {
    const stream = createWriteStream(this.path, { flags: 'a' });
    stream.on('error', (err) => process.stderr.write(`hybridge: cannot write the log file ${this.path}: ${err.message}\n`));
    return stream;
  }
}

/** SIGHUP: every log file is closed and opened again at its path, so rotated logs start a new file. */
export function reopenLogFiles(): void {
  for (const file of logFiles) file.reopen();
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const level = options.level ?? 'info';
  let sink: { write(text: string): unknown } = process.stderr;
  if (options.file) {
    const file = new ReopenableFile(options.file);
    logFiles.push(file);
    sink = file;
  }
  const destination =
    options.format === 'json'
      ? sink
      : {
          write(line: string) {
            sink.write(formatTextRecord(line));
          },
        };
  return pino(
    {
      level,
      base: options.name ? { name: options.name } : null,
      timestamp: pino.stdTimeFunctions.epochTime,
      redact: { paths: ['token', 'key', 'signature', 'connectionString', '*.token', '*.key'], censor: '[redacted]' },
    },
    destination,
  );
}

/** A logger that drops everything (library use, tests). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
