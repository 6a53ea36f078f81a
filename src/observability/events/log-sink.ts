import type { Logger } from '../../util/logger.js';
import type { RelayEventSink } from './event-bus.js';
import { EVENT_LINES } from './relay-event.js';

const NOT_LOGGED = new Set(['time', 'node', 'quiet', 'logged', 'role']);

/** Writes each event to the relay's log as one line: its human message, `event=` its name, and its fields. */
export function logSink(log: Logger): RelayEventSink {
  return (event) => {
    if (event.quiet || event.logged) return;
    const { message, level } = EVENT_LINES[event.event];
    if (!log.isLevelEnabled(level)) return;
    const fields: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(event)) if (!NOT_LOGGED.has(key) && value !== undefined) fields[key] = value;
    log[level](fields, message);
  };
}
