/** What the floor scripts share at their entry: a one-line failure and the connection-count argument. */

/** Reports `err` as `<name>: <message>` on stderr and exits with 1. */
export function failWith(name: string): (err: unknown) => never {
  return (err) => {
    console.error(`${name}: ${(err as Error).message}`);
    process.exit(1);
  };
}

/** The connection count from the command line (`fallback` when absent): a whole number from 1 to 20000. */
export function connectionCount(arg: string | undefined, fallback: number): number {
  const count = arg === undefined ? fallback : Number(arg);
  if (!Number.isInteger(count) || count < 1 || count > 20_000) throw new Error('the connection count must be a whole number from 1 to 20000');
  return count;
}
