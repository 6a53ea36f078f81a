/** Exit codes of the hybridge command. */
export const ExitCode = {
  Ok: 0,
  /** The operation failed at run time (network, relay, target). */
  Failure: 1,
  /** The command line or a configuration file is wrong. */
  Usage: 2,
} as const;

/** An error the user can fix; printed as one line without a stack trace. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = ExitCode.Usage,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

export function fail(message: string, exitCode: number = ExitCode.Usage): never {
  throw new CliError(message, exitCode);
}
