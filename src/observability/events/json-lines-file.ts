import { createWriteStream, type WriteStream } from 'node:fs';

/** Beyond this much unwritten output (a stalled disk), lines are dropped and counted instead of held. */
const MAX_PENDING_BYTES = 8 * 1024 * 1024;

/**
 * An append-only file of JSON lines (0600), reopened on request so that log rotation (rename, then
 * SIGHUP) starts a new file. A stalled disk never makes memory grow: past 8 MiB unwritten, lines are
 * dropped and the count is written once the file drains.
 */
export class JsonLinesFile {
  private stream: WriteStream;
  private dropped = 0;

  constructor(readonly path: string) {
    this.stream = this.open();
  }

  write(record: object): void {
    if (this.stream.writableLength > MAX_PENDING_BYTES) {
      this.dropped++;
      return;
    }
    if (this.dropped > 0) {
      this.stream.write(`${JSON.stringify({ time: new Date().toISOString(), dropped: this.dropped, reason: 'the file did not keep up' })}\n`);
      this.dropped = 0;
    }
    this.stream.write(`${JSON.stringify(record)}\n`);
  }

  /** Closes the current file and opens the path again (after a rotation). */
  reopen(): void {
    const old = this.stream;
    this.stream = this.open();
    old.end();
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.stream.end(() => resolve()));
  }

  private open(): WriteStream {
    const stream = createWriteStream(this.path, { flags: 'a', mode: 0o600 });
    // A write failure (disk full, file removed with its directory) must not take the relay down.
    stream.on('error', () => undefined);
    return stream;
  }
}

/** Checks that `path` can be opened for appending now, so a bad --event-log or --audit-log is one line at start. */
export function checkWritable(path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const stream = createWriteStream(path, { flags: 'a', mode: 0o600 });
    stream.once('error', (err: NodeJS.ErrnoException) => reject(new Error(`cannot append to ${path} (${err.code ?? err.message})`)));
    stream.once('open', () => stream.end(() => resolve()));
  });
}
