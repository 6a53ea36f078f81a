/** The label value every value past the cap is counted under (aztunnel's name for it). */
export const OVERFLOW_LABEL = '__other__';

/**
 * Keeps a label's cardinality bounded: the first `max` distinct values are used as they are, every
 * later one is reported as `__other__` (0 = no cap). A Prometheus series per value costs memory in
 * both the process and the server, so labels fed from the network (targets, entity names) are capped.
 */
export class BoundedLabel {
  private readonly seen = new Set<string>();

  constructor(private readonly max: number) {}

  value(raw: string): string {
    if (this.max <= 0 || this.seen.has(raw)) return raw;
    if (this.seen.size >= this.max) return OVERFLOW_LABEL;
    this.seen.add(raw);
    return raw;
  }
}
