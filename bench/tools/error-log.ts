/** Counts errors and keeps the first few descriptions for the report. */
export class ErrorLog {
  count = 0;
  readonly samples: string[] = [];

  add(what: string, count = 1): void {
    this.count += count;
    if (this.samples.length < 5) this.samples.push(what);
  }

  get result(): { errors: number; errorSamples: string[] } {
    return { errors: this.count, errorSamples: [...this.samples] };
  }
}

export function describe(err: unknown): string {
  if (err instanceof Error) return (err as NodeJS.ErrnoException).code ?? err.message;
  return String(err);
}
