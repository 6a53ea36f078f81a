/** Progress on stderr: elapsed time since the bench started, the scenario, and one line per figure. */
const started = Date.now();

function stamp(): string {
  return `[${((Date.now() - started) / 1000).toFixed(1).padStart(6)}s]`;
}

export function progress(message: string): void {
  process.stderr.write(`${stamp()} ${message}\n`);
}

export function elapsedSeconds(): number {
  return (Date.now() - started) / 1000;
}
