import type { Logger } from '../util/logger.js';
import { clearTimer } from '../util/clear-timer.js';

type Level = 'info' | 'warn';

interface Window {
  start: number;
  written: number;
  suppressed: number;
  timer: NodeJS.Timeout | undefined;
}

/**
 * Keeps floods out of the log: of the lines with one message, at most `burst` are written per
 * window; the rest are counted and summed up in one line when the window ends. 500 senders refused
 * in a second make `burst` lines and one "... more" line, from however many addresses they came.
 */
export class LogLimiter {
  private readonly windows = new Map<string, Window>();

  constructor(
    private readonly log: Logger,
    private readonly burst = 10,
    private readonly windowMs = 1000,
  ) {}

  info(fields: Record<string, unknown>, message: string): void {
    this.write('info', fields, message);
  }

  warn(fields: Record<string, unknown>, message: string): void {
    this.write('warn', fields, message);
  }

  close(): void {
    for (const w of this.windows.values()) clearTimer(w.timer);
    this.windows.clear();
  }

  private write(level: Level, fields: Record<string, unknown>, message: string, now = Date.now()): void {
    let w = this.windows.get(message);
    if (!w || now - w.start >= this.windowMs) {
      if (w?.timer) this.flush(level, message, w);
      w = { start: now, written: 0, suppressed: 0, timer: undefined };
      this.windows.set(message, w);
    }
    if (w.written < this.burst) {
      w.written++;
      this.log[level](fields, message);
      return;
    }
    w.suppressed++;
    if (!w.timer) {
      const window = w;
      window.timer = setTimeout(() => this.flush(level, message, window), Math.max(0, window.start + this.windowMs - now));
      window.timer.unref();
    }
  }

  private flush(level: Level, message: string, w: Window): void {
    clearTimer(w.timer);
    w.timer = undefined;
    if (w.suppressed === 0) return;
    this.log[level]({ suppressed: w.suppressed, windowMs: this.windowMs }, `${message} (${w.suppressed} more like it not logged)`);
    w.suppressed = 0;
    if (this.windows.get(message) === w && Date.now() - w.start >= this.windowMs) this.windows.delete(message);
  }
}
