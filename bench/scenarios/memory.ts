/** Memory figures: (peak RSS - idle RSS) / connections, per process slot of a path. */
import type { ProcessReport, SampleReport, Slot } from '../lib/sampler.js';
import type { Figure } from '../report/model.js';
import { figure, type MetricDef } from './types.js';

export const MEMORY_METRICS: Record<Exclude<Slot, 'target'>, MetricDef> = {
  relay: { metric: 'mem-relay', label: 'relay memory per connection', unit: 'KiB', better: 'lower' },
  sender: { metric: 'mem-sender', label: 'sender-end memory per connection', unit: 'KiB', better: 'lower' },
  listener: { metric: 'mem-listener', label: 'listener-end memory per connection', unit: 'KiB', better: 'lower' },
};

export function memoryFigures(scenario: string, path: string, memory: ProcessReport[], connections: number, errors: { errors: number; errorSamples?: string[] }): Figure[] {
  return memory.flatMap((m) =>
    m.slot === 'target'
      ? []
      : figure(scenario, path, MEMORY_METRICS[m.slot], (m.peakKiB - m.idleKiB) / Math.max(1, connections), errors, {
      process: m.role,
      idleKiB: m.idleKiB,
      peakKiB: m.peakKiB,
    }),
  );
}

/**
 * CPU seconds per process while a measurement ran (the driver reports its own), what the rest of
 * the machine used meanwhile ("other": programs outside the bench disturbing the measurement),
 * interrupt time ("softirq", mostly loopback networking) and time stolen by the hypervisor.
 */
export function cpuDetail(sample: SampleReport, driver?: { user: number; system: number }): Record<string, number> {
  const r2 = (v: number) => Math.round(v * 100) / 100;
  const out: Record<string, number> = {};
  let ours = 0;
  for (const p of sample.processes) {
    out[p.role] = r2(p.cpuSeconds);
    if (p.systemSeconds > 0) out[`${p.role} (system)`] = r2(p.systemSeconds);
    ours += p.cpuSeconds;
  }
  if (driver) {
    out.driver = r2(driver.user + driver.system);
    ours += driver.user + driver.system;
  }
  out.other = r2(Math.max(0, sample.machineBusySeconds - ours));
  if (sample.softirqSeconds > 0.05) out.softirq = r2(sample.softirqSeconds);
  if (sample.stealSeconds > 0.05) out.steal = r2(sample.stealSeconds);
  out.wall = r2(sample.wallSeconds);
  return out;
}
