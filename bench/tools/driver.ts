/**
 * The bench's load generator and meter. Usage: node driver.js '<DriverSpec JSON>'. Prints one JSON
 * line (a DriverResult) on stdout; progress notes go to stderr.
 */
import type { DriverResult, DriverSpec } from './driver-spec.js';
import { driveBulk } from './drive-bulk.js';
import { driveHttp } from './drive-http.js';
import { driveSessions } from './drive-sessions.js';
import { driveSetup } from './drive-setup.js';
import { driveUdp } from './drive-udp.js';
import { patternBlock } from './pattern.js';

async function run(spec: DriverSpec): Promise<DriverResult> {
  switch (spec.mode) {
    case 'bulk':
      return driveBulk(spec);
    case 'setup':
      return driveSetup(spec);
    case 'sessions':
      return driveSessions(spec);
    case 'http':
      return driveHttp(spec);
    case 'udp':
      return driveUdp(spec);
  }
}

const arg = process.argv[2];
if (!arg) {
  process.stderr.write("usage: driver.js '<spec JSON>'\n");
  process.exit(2);
}
// The pattern blocks take ~0.1-0.3 s of CPU to derive; deriving them here keeps that out of every
// timed figure (a burst's first connection, a small transfer).
patternBlock(1);
patternBlock(2);
run(JSON.parse(arg) as DriverSpec).then(
  (result) => {
    const usage = process.cpuUsage();
    process.stdout.write(`${JSON.stringify({ ...result, cpu: { user: usage.user / 1e6, system: usage.system / 1e6 } })}\n`);
    process.exit(0);
  },
  (err: unknown) => {
    process.stderr.write(`driver failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
