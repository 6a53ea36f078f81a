import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import type { LevelWithSilent } from 'pino';
import { parseDuration } from '../util/duration.js';
import { createLogger, type LogFormat, type Logger } from '../util/logger.js';
import { fail } from './errors.js';

const LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];

export function addLogOptions(command: Command): Command {
  return command
    .option('--log-level <level>', 'trace, debug, info, warn, error or silent', 'info')
    .option('--log-format <format>', 'text or json', 'text');
}

export function loggerFrom(opts: { logLevel?: string; logFormat?: string; logFile?: string }, name?: string): Logger {
  const level = (opts.logLevel ?? 'info').toLowerCase();
  if (!LEVELS.includes(level)) fail(`--log-level must be one of ${LEVELS.join(', ')}`);
  const format = (opts.logFormat ?? 'text').toLowerCase();
  if (format !== 'text' && format !== 'json') fail('--log-format must be text or json');
  return createLogger({ level: level as LevelWithSilent, format: format as LogFormat, file: opts.logFile, name });
}

export function parsePort(text: string, what = 'port'): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < 0 || n > 65535) fail(`${what} must be a number from 0 to 65535, not "${text}"`);
  return n;
}

export function parsePositiveInt(text: string, what: string, min = 1, max = Number.MAX_SAFE_INTEGER): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < min || n > max) fail(`${what} must be a whole number from ${min} to ${max}, not "${text}"`);
  return n;
}

export const PRECONNECT_HELP = 'connected (and TLS-negotiated) sockets kept ready per relay host once it is in use, so a new relayed connection only costs the WebSocket upgrade (0-64, default 2; 0 = off; not used through a proxy)';

/** --preconnect's value: sockets per relay host (0-64), undefined for the client library's default. */
export function preconnectFlag(text: string | undefined): number | undefined {
  return text === undefined ? undefined : parsePositiveInt(text, '--preconnect', 0, 64);
}

export function parseDurationOption(text: string, what: string): number {
  try {
    return parseDuration(text);
  } catch (err) {
    fail(`${what}: ${(err as Error).message}`);
  }
}

/** A PEM file of certificates to trust (`--ca`): read now, so a wrong path is one line before any connection. */
export function readPemFile(file: string, flag: string): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    fail(`${flag}: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  if (!text.includes('-----BEGIN CERTIFICATE-----')) fail(`${flag}: ${file} holds no PEM certificate`);
  return text;
}

export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/**
 * Runs `reload` on every SIGHUP, one at a time (a SIGHUP during a reload runs it again afterwards);
 * a failed reload is one line and the process carries on with what it had.
 */
export function onReloadSignal(log: Logger, reload: () => Promise<void> | void): void {
  let running: Promise<void> | undefined;
  let again = false;
  const run = async (): Promise<void> => {
    do {
      again = false;
      try {
        await reload();
      } catch (err) {
        log.error({ reason: (err as Error).message }, 'reload failed; carrying on with the configuration that was running');
      }
    } while (again);
    running = undefined;
  };
  process.on('SIGHUP', () => {
    if (running) {
      again = true;
      return;
    }
    running = run();
  });
}

/** Runs `stop` on the first SIGINT/SIGTERM; a second signal exits at once. */
export function onShutdownSignal(log: Logger, stop: (signal: string) => Promise<void>): void {
  let stopping = false;
  const handler = (signal: NodeJS.Signals) => {
    if (stopping) {
      log.warn({ signal }, 'second signal; exiting now');
      process.exit(130);
    }
    stopping = true;
    log.info({ signal }, 'shutting down');
    stop(signal).then(
      () => process.exit(0),
      (err: Error) => {
        log.error({ err: err.message }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
}
