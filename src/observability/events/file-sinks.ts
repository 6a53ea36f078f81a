import type { RelayEventSink } from './event-bus.js';
import type { JsonLinesFile } from './json-lines-file.js';
import type { RelayEvent } from './relay-event.js';

/** What goes into the files: the event without the sinks' own flags. */
function fileRecord(event: RelayEvent): Record<string, unknown> {
  const { quiet: _quiet, logged: _logged, ...record } = event;
  return record;
}

/** `--event-log FILE`: every event (but those the failure throttle silenced), one JSON object per line. */
export function eventFileSink(file: JsonLinesFile): RelayEventSink {
  return (event) => {
    if (!event.quiet) file.write(fileRecord(event));
  };
}

/**
 * `--audit-log FILE`: every management operation (who by rule name, what, on which entity, the
 * result), every key change and every IP rule change, one JSON object per line. Records carry names, never a key.
 */
export function auditFileSink(file: JsonLinesFile): RelayEventSink {
  return (event) => {
    if (event.event === 'ManagementOperation' || event.event === 'AuthorizationRuleKeysChanged' || event.event === 'NetworkRulesChanged') file.write(fileRecord(event));
  };
}
