/**
 * Sites on a network-fault lab (lab/): the client, relay and service sites are the lab's nodes of
 * those names, so every process of a path runs in its own network namespace and talks to the
 * others across the lab's delayed, lossy links. The bench process itself sits outside the lab and
 * reaches nothing inside it: port checks run `ss` in the node, probes run as a process at the
 * client site (tools/probe.ts).
 */
import { join } from 'node:path';
import type { Lab } from '../../lab/index.js';
import { deadProcess } from './probe.js';
import { startProcess, tail } from './procs.js';
import type { Site, Sites } from './sites.js';

export function labSites(lab: Lab, toolsDir: string): Sites {
  const start: Sites['start'] = (site, name, command, args, options) => {
    const [file, wrapped] = lab.node(site).wrap(command, args);
    return startProcess(name, file, wrapped, options);
  };
  return {
    name: lab.id,
    address: (site: Site) => lab.node(site).address,
    start,
    waitForListening: (site, proc, endpoint, timeoutMs) =>
      Promise.race([lab.node(site).waitForPort(endpoint.port, timeoutMs), proc.exited.then(() => Promise.reject(new Error(`${proc.name} exited: ${tail(proc.output())}`)))]),
    probe: async (path, mode, deadlineMs, caFile) => {
      const spec = { path: { endpoint: path.endpoint, ...(path.http ? { http: path.http } : {}) }, mode, deadlineMs, ...(caFile ? { caFile } : {}) };
      const probe = start('client', `probe (${mode})`, process.execPath, [join(toolsDir, 'probe.js'), JSON.stringify(spec)], { env: { ...process.env, ...path.driverEnv } });
      let timer: NodeJS.Timeout | undefined;
      const died = new Promise<string>((resolve) => {
        timer = setInterval(() => {
          const why = deadProcess(path);
          if (why) resolve(why);
        }, 200);
      });
      try {
        const outcome = await Promise.race([probe.exited, died]);
        if (outcome === 0) return;
        throw new Error(typeof outcome === 'string' && !probe.hasExited() ? outcome : `probe from the client site failed: ${tail(probe.output(), 3)}`);
      } finally {
        clearInterval(timer);
        await probe.stop(500);
      }
    },
  };
}
