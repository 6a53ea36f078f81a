/** Counting what the relay and the ends logged, for the multiplexing tests. */

/** Rendezvous connections the relay carried (and finished) on `hyco`: one 'connection ended' line each. */
export function relayedConnections(records: Record<string, unknown>[], hyco: string): number {
  return records.filter((r) => r.msg === 'connection ended' && r.hyco === hyco).length;
}

/** Lines of a process's output that match `pattern`. */
export function count(output: string, pattern: RegExp): number {
  return output.split('\n').filter((line) => pattern.test(line)).length;
}
