import type { RelayEvent, RelayEventFields, RelayEventName } from './relay-event.js';

export type RelayEventSink = (event: RelayEvent) => void;

/**
 * Where the relay reports its lifecycle steps. Every sink (the log, the event file, the audit
 * log, webhooks, metrics, the dashboard's recent events) sees every event; a sink that throws is
 * reported once and never stops the relay.
 */
export class RelayEventBus {
  private readonly sinks: RelayEventSink[] = [];
  private readonly failed = new Set<RelayEventSink>();

  constructor(
    private readonly node: string,
    private readonly onSinkError: (error: Error) => void = () => undefined,
  ) {}

  subscribe(sink: RelayEventSink): () => void {
    this.sinks.push(sink);
    return () => {
      const i = this.sinks.indexOf(sink);
      if (i >= 0) this.sinks.splice(i, 1);
    };
  }

  emit(name: RelayEventName, fields: RelayEventFields = {}): void {
    if (this.sinks.length === 0) return;
    this.deliver({ event: name, time: new Date().toISOString(), node: this.node, ...fields });
  }

  /** A bus whose events come out of this one with `fields` added (a hosted namespace's events carry its name). */
  scoped(fields: RelayEventFields): RelayEventBus {
    const child = new RelayEventBus(this.node, this.onSinkError);
    child.subscribe((event) => this.deliver({ ...event, ...fields }));
    return child;
  }

  private deliver(event: RelayEvent): void {
    for (const sink of this.sinks) {
      try {
        sink(event);
      } catch (err) {
        if (!this.failed.has(sink)) {
          this.failed.add(sink);
          this.onSinkError(err as Error);
        }
      }
    }
  }
}
