/**
 * The CPU the metrics add per connection, measured in this process (no network, no other process):
 * one connection's lifecycle through an end with and without EndMetrics, and through the relay with
 * and without RelayMetrics (its events and its tracked connection). Unlike a timed run on a busy
 * machine this does not drift with the load; s9 reports it next to the measured set-up times.
 */
import { ConnectionLifecycle } from '../../src/forwarding/lifecycle/connection-lifecycle.js';
import { RelayEventBus } from '../../src/observability/events/event-bus.js';
import { EndMetrics } from '../../src/observability/metrics/end-metrics.js';
import { RelayMetrics } from '../../src/observability/metrics/relay-metrics.js';
import { metricsRegistry } from '../../src/observability/metrics/registry.js';
import { silentLogger } from '../../src/util/logger.js';

const CONNECTIONS = 20_000;

function cpuMicrosPerConnection(body: (i: number) => void): number {
  for (let i = 0; i < 2000; i++) body(i); // warm-up
  const start = process.cpuUsage();
  for (let i = 0; i < CONNECTIONS; i++) body(i);
  const used = process.cpuUsage(start);
  return (used.user + used.system) / CONNECTIONS;
}

function endConnection(lifecycle: ConnectionLifecycle, i: number): void {
  const c = lifecycle.open({ role: 'sender', fields: { hyco: 'bench', port: 'p', client: '127.0.0.1:1' }, abort: () => undefined });
  c.update({ trackingId: `t${i}` });
  c.dialed(3);
  c.established();
  c.toRelay += 1000;
  c.fromRelay += 1000;
  c.end({ end: 'closed' });
}

function relayConnection(lifecycle: ConnectionLifecycle, events: RelayEventBus, i: number): void {
  const f = { role: 'sender' as const, hyco: 'bench', trackingId: `t${i}`, listenerId: 'l' };
  events.emit('NewSenderRegistering', f);
  events.emit('ListenerAcceptingConnection', f);
  const c = lifecycle.open({ role: 'relay', fields: { hyco: 'bench', trackingId: `t${i}` }, abort: () => undefined, bytes: () => ({ toListener: 1000, toSender: 1000 }) });
  events.emit('SenderListenerConnectionEstablished', { ...f, setupMs: 2 });
  c.end({ end: 'closed' });
  events.emit('SenderConnectionClosed', { ...f, bytesToListener: 1000, bytesToSender: 1000, logged: true });
}

export interface Bookkeeping {
  /** CPU µs one connection costs an end, without and with metrics. */
  end: { off: number; on: number };
  relay: { off: number; on: number };
  /** What metrics add to one relayed connection: both ends and the relay. */
  addedMicros: number;
}

export function measureBookkeeping(): Bookkeeping {
  const log = silentLogger();
  const endOff = new ConnectionLifecycle(log);
  const endOn = new ConnectionLifecycle(log);
  new EndMetrics(metricsRegistry(), endOn);
  const relayOff = { lifecycle: new ConnectionLifecycle(log), events: new RelayEventBus('bench') };
  const relayOn = { lifecycle: new ConnectionLifecycle(log), events: new RelayEventBus('bench') };
  relayOff.events.subscribe(() => undefined);
  new RelayMetrics(metricsRegistry(), { node: 'bench', lifecycle: relayOn.lifecycle, events: relayOn.events, listenerEntities: () => [] });
  const end = { off: cpuMicrosPerConnection((i) => endConnection(endOff, i)), on: cpuMicrosPerConnection((i) => endConnection(endOn, i)) };
  const relay = { off: cpuMicrosPerConnection((i) => relayConnection(relayOff.lifecycle, relayOff.events, i)), on: cpuMicrosPerConnection((i) => relayConnection(relayOn.lifecycle, relayOn.events, i)) };
  return { end, relay, addedMicros: 2 * Math.max(0, end.on - end.off) + Math.max(0, relay.on - relay.off) };
}
