import type { RelayEventSink } from './event-bus.js';
import type { RelayEvent } from './relay-event.js';

export interface NumberedEvent extends RelayEvent {
  seq: number;
}

/** The last events (the dashboard's "recent events" and `hybridge status`), numbered so a poller asks only for newer ones. */
export class RecentEvents {
  private readonly ring: NumberedEvent[] = [];
  private seq = 0;

  constructor(private readonly capacity = 500) {}

  readonly sink: RelayEventSink = (event) => {
    if (event.quiet || event.event === 'NewSenderRegistering' || event.event === 'ListenerAcceptingConnection') return;
    const { quiet: _quiet, logged: _logged, ...rest } = event;
    this.ring.push({ ...rest, seq: ++this.seq });
    if (this.ring.length > this.capacity) this.ring.shift();
  };

  /** Events after `afterSeq`, oldest first, at most `limit`. */
  since(afterSeq = 0, limit = this.capacity): NumberedEvent[] {
    const newer = this.ring.filter((e) => e.seq > afterSeq);
    return newer.slice(Math.max(0, newer.length - limit));
  }
}
