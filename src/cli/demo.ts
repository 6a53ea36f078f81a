import type { Command } from 'commander';
import { runDemo } from '../demo/run-demo.js';
import { parsePositiveInt } from './common-options.js';
import { CliError, ExitCode } from './errors.js';
import { withExamples } from './help-text.js';

export function registerDemoCommand(program: Command): void {
  const command = program
    .command('demo')
    .description('run everything end to end on 127.0.0.1: an embedded relay, bridge -L/-T/-H and relay-sender/relay-listener, with SHA-256-checked transfers')
    .option('--mib <n>', 'MiB pushed through each bulk transfer', '64')
    .option('--parallel <n>', 'parallel connections in the concurrency check', '16');
  withExamples(command, ['hybridge demo', 'hybridge demo --mib 8 --parallel 4'], 'Exit codes: 0 every check passed, 1 a check failed (FAIL lines say which), 2 invalid command line.');
  command.action(async (flags: { mib: string; parallel: string }) => {
      const ok = await runDemo({
        bytes: parsePositiveInt(flags.mib, '--mib', 1, 4096) * 1024 * 1024,
        parallel: parsePositiveInt(flags.parallel, '--parallel', 1, 500),
        write: (line) => process.stdout.write(line),
      });
      if (!ok) throw new CliError('the demo found a problem (see the FAIL lines above)', ExitCode.Failure);
    });
}
