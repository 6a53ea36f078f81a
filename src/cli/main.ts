#!/usr/bin/env node
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
