#!/usr/bin/env -S node --initial-old-space-size=64
// The heap flag: every socket read is a fresh 64 KiB ArrayBuffer, and V8 (Node 20) counts that churn
// (~32 MB between two young-generation GCs) against the old generation's headroom. Past its first
// full GC, a process whose old generation holds more than V8's 8 MB activation threshold (every
// hybridge process) gets a headroom of ~1.1x its heap and then runs a full mark-compact every
// ~150 ms of bulk traffic, which doubles its CPU per GiB (scripts/data-path.mjs; docs/benchmarks.md).
// A 64 MB initial old generation keeps the headroom above the churn. The bench starts the CLI with
// these same flags (bench/lib/launch-flags.ts).
import { CommanderError } from 'commander';
import { CliError, ExitCode } from './errors.js';
import { createProgram } from './program.js';

// `hybridge completion bash | head` closes the pipe early: that is the reader's choice, not an error.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(ExitCode.Ok);
  throw err;
});

createProgram()
  .parseAsync(process.argv)
  .catch((err: unknown) => {
    if (err instanceof CommanderError) {
      process.exit(err.exitCode === 0 ? ExitCode.Ok : ExitCode.Usage);
    }
    if (err instanceof CliError) {
      process.stderr.write(`hybridge: ${err.message}\n`);
      process.exit(err.exitCode);
    }
    process.stderr.write(`hybridge: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(ExitCode.Failure);
  });
