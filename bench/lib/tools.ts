/** Starting the target process and running the driver process (bench/tools, built into dist). */
import { join } from 'node:path';
import { progress } from './progress.js';
import { tail, type Proc } from './procs.js';
import type { TargetMode } from './probe.js';
import type { BenchContext, Endpoint } from '../paths/types.js';
import type { DriverResult, DriverSpec } from '../tools/driver-spec.js';

export interface RunningTarget {
  proc: Proc;
  endpoint: Endpoint;
}

/** The target at the service site, listening where the other sites reach it. */
export async function startTarget(ctx: BenchContext, mode: TargetMode): Promise<RunningTarget> {
  const host = ctx.sites.address('service');
  const proc = ctx.sites.start('service', `target (${mode})`, process.execPath, [join(ctx.toolsDir, 'target.js'), mode, host]);
  try {
    const m = await proc.waitFor(/"port":(\d+)/, 10_000);
    return { proc, endpoint: { host, port: Number(m[1]) } };
  } catch (err) {
    await proc.stop();
    throw err;
  }
}

/** Runs the driver with `spec` at the client site; resolves with its JSON result, rejects on a crash or after `timeoutMs`. */
export async function runDriver<R extends DriverResult>(ctx: BenchContext, spec: DriverSpec, timeoutMs: number, env: Record<string, string> = {}): Promise<R & { driverPid: number }> {
  const proc = ctx.sites.start('client', `driver (${spec.mode})`, process.execPath, [join(ctx.toolsDir, 'driver.js'), JSON.stringify(spec)], {
    env: { ...process.env, ...env },
  });
  proc.child.stderr?.on('data', (chunk: Buffer) => {
    for (const line of chunk.toString('utf8').split('\n')) if (line.startsWith('driver: ')) progress(`    ${line}`);
  });
  const timer = setTimeout(() => proc.child.kill('SIGKILL'), timeoutMs);
  const code = await proc.exited;
  clearTimeout(timer);
  const line = proc.stdout().trim().split('\n').pop() ?? '';
  if (code !== 0 || !line.startsWith('{')) {
    throw new Error(`driver ${code === 'SIGKILL' ? `killed after ${timeoutMs} ms` : `exited with ${code}`}: ${tail(proc.output(), 6)}`);
  }
  return { ...(JSON.parse(line) as R), driverPid: proc.pid };
}
