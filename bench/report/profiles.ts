/**
 * With --cpu-prof: summarises each hybridge process's .cpuprofile into <role>.txt next to it (busy
 * time, then the functions with the most self time as a share of it) and prints the top lines.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { progress } from '../lib/progress.js';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export function summariseProfile(file: string, top = 25): string[] {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<string, number>();
  let busy = 0;
  profile.samples.forEach((id, i) => {
    const frame = byId.get(id)?.callFrame;
    const dt = profile.timeDeltas[i] ?? 0;
    if (!frame || frame.functionName === '(idle)') return;
    const where = frame.url ? ` ${frame.url.replace(/^.*\/(dist|node_modules)\//, '').replace(/^node:/, '')}:${frame.lineNumber + 1}` : '';
    const key = `${frame.functionName || '(anonymous)'}${where}`;
    self.set(key, (self.get(key) ?? 0) + dt);
    busy += dt;
  });
  const lines = [`busy ${(busy / 1e6).toFixed(2)} s (idle excluded); self time:`];
  for (const [key, us] of [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    lines.push(`${((100 * us) / Math.max(1, busy)).toFixed(1).padStart(5)}%  ${(us / 1e3).toFixed(0).padStart(6)} ms  ${key}`);
  }
  return lines;
}

export function summariseProfiles(dir: string): void {
  for (const name of readdirSync(dir).filter((n) => n.endsWith('.cpuprofile'))) {
    try {
      const lines = summariseProfile(join(dir, name));
      writeFileSync(join(dir, name.replace(/\.cpuprofile$/, '.txt')), `${lines.join('\n')}\n`);
      progress(`     profile ${name}: ${lines[0]}; ${lines.slice(1, 5).map((l) => l.trim().replace(/\s+/g, ' ')).join(' | ')}`);
    } catch (err) {
      progress(`     profile ${name}: unreadable (${(err as Error).message})`);
    }
  }
}
