/**
 * The readiness probe as a process, for paths whose client site is a lab node the bench process
 * cannot reach (bench/lib/lab-sites.ts). Usage: node probe.js '<ProbeSpec JSON>'. Exits 0 once the
 * path carried one exchange, 1 (with the reason on stderr) when it did not before the deadline.
 */
import { probeUntil, type ProbeTarget, type TargetMode } from '../lib/probe.js';

export interface ProbeSpec {
  path: ProbeTarget;
  mode: TargetMode;
  deadlineMs: number;
  caFile?: string;
}

const spec = JSON.parse(process.argv[2] ?? 'null') as ProbeSpec | null;
if (!spec) {
  process.stderr.write("usage: probe.js '<spec JSON>'\n");
  process.exit(2);
}
probeUntil(spec.path, spec.mode, spec.deadlineMs, spec.caFile).then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
