/** Baseline paths: the target reached directly, and socat as a one-hop forwarder (TCP and UDP). */
import { freePort, freeUdpPort, HOST, waitForPort } from '../lib/net.js';
import { startProcess } from '../lib/procs.js';
import { stopProcs, type PathDef } from './types.js';

/** socat's read/write buffer (-b): large enough that socat is not slowed by small reads. */
export const SOCAT_BUFFER = 262144;

export const directPath: PathDef = {
  id: 'direct',
  label: 'direct (no forwarder)',
  kind: 'baseline',
  start: async (_ctx, target) => ({ endpoint: target, watched: [], procs: [], stop: async () => undefined }),
};

const noSocat = 'socat not installed (apt-get install socat openssh-server iperf3)';

export const socatTcpPath: PathDef = {
  id: 'socat',
  label: `socat one-hop (-b ${SOCAT_BUFFER})`,
  kind: 'baseline',
  unavailable: (ctx) => (ctx.tools.socat ? undefined : noSocat),
  start: async (ctx, target) => {
    const port = await freePort();
    const proc = startProcess('socat', ctx.tools.socat!, ['-b', String(SOCAT_BUFFER), `TCP4-LISTEN:${port},bind=${HOST},reuseaddr,fork,backlog=4096`, `TCP4:${target.host}:${target.port}`]);
    try {
      await waitForPort(port, 10_000);
    } catch (err) {
      await proc.stop();
      throw err;
    }
    return { endpoint: { host: HOST, port }, watched: [{ slot: 'sender', role: 'socat (all forks)', pid: proc.pid, tree: true }], procs: [proc], stop: () => stopProcs([proc]) };
  },
};

export const socatUdpPath: PathDef = {
  id: 'socat',
  label: 'socat UDP one-hop',
  kind: 'baseline',
  unavailable: (ctx) => (ctx.tools.socat ? undefined : noSocat),
  start: async (ctx, target) => {
    const port = await freeUdpPort();
    const proc = startProcess('socat (UDP)', ctx.tools.socat!, ['-T', '60', '-b', '65536', `UDP4-LISTEN:${port},bind=${HOST},reuseaddr,fork`, `UDP4:${target.host}:${target.port}`]);
    return { endpoint: { host: HOST, port }, watched: [], procs: [proc], stop: () => stopProcs([proc]) };
  },
};
