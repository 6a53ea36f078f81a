import { Writable } from 'node:stream';
import { pino } from 'pino';
import type { Logger } from '../../src/util/logger.js';

/** A JSON logger whose lines are collected in `lines`. */
export function capturingLogger(): { lines: string[]; log: Logger } {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(...chunk.toString().split('\n').filter(Boolean));
      done();
    },
  });
  return { lines, log: pino({ level: 'info', base: null }, sink) };
}
