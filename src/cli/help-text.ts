import type { Command } from 'commander';

/** The exit codes every command uses (README "Reference"); each command's help says what they mean for it. */
export const EXIT_CODES = {
  service: 'Exit codes: 0 stopped by SIGINT/SIGTERM, 1 a run-time failure (one line says why), 2 invalid command line or configuration.',
  management: 'Exit codes: 0 done, 1 the relay refused the call or could not be reached (one line says why), 2 invalid command line.',
  oneShot: 'Exit codes: 0 done, 1 a run-time failure (one line says why), 2 invalid command line.',
} as const;

/** Adds an "Examples:" block and the exit codes after the options in `--help`. */
export function withExamples(command: Command, examples: readonly string[], exitCodes: string): Command {
  return command.addHelpText('after', `\nExamples:\n${examples.map((e) => `  ${e}`).join('\n')}\n\n${exitCodes}`);
}
