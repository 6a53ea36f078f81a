/** A configuration the user must fix. The message is one line and never contains a secret. */
export class BridgeConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BridgeConfigError';
  }
}

/**
 * A value check failed. Checks know what is wrong but not where the value came from; the caller
 * turns this into a BridgeConfigError prefixed with the option, file position or -o key.
 */
export class ValueError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ValueError';
  }
}

/** Runs `check`, prefixing a ValueError's message with `where`. */
export function at<T>(where: string, check: () => T): T {
  try {
    return check();
  } catch (err) {
    if (err instanceof ValueError) throw new BridgeConfigError(`${where}: ${err.message}`);
    throw err;
  }
}
