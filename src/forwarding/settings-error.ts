/**
 * Settings a listener end's handlers cannot be built from, one line per problem: the CLI prints
 * each and exits 2; a reload (SIGHUP) logs them and keeps serving with the handlers it had.
 */
export class SettingsError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join('; '));
    this.name = 'SettingsError';
  }
}
