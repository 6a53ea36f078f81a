import { fail } from '../errors.js';

type Step = { kind: 'field'; name: string } | { kind: 'index'; index: number } | { kind: 'each' };

export interface OutputFlags {
  output: string;
  query?: string;
}

/** Checks -o and --query before anything is sent, so a typo costs no round trip. */
export function checkOutputFlags(flags: OutputFlags): void {
  outputFormat(flags.output);
  if (flags.query !== undefined) parseQuery(flags.query);
}

/**
 * Prints a result as az does: pretty JSON by default, `-o tsv` for scripts, `--query` to pick a
 * field. Only plain paths are understood (`a.b`, `[0].name`, `[].name`), not all of JMESPath.
 */
export function printResult(value: unknown, flags: OutputFlags, write: (text: string) => void = (t) => process.stdout.write(t)): void {
  const format = outputFormat(flags.output);
  const selected = flags.query === undefined ? value : select(value, parseQuery(flags.query));
  if (format === 'none') return;
  if (format === 'json') {
    write(JSON.stringify(selected ?? null, null, 2) + '\n');
    return;
  }
  const rows = Array.isArray(selected) ? selected : [selected];
  for (const row of rows) write(tsvRow(row) + '\n');
}

function outputFormat(text: string): 'json' | 'tsv' | 'none' {
  const format = text.toLowerCase();
  if (format === 'json' || format === 'jsonc') return 'json';
  if (format === 'tsv' || format === 'none') return format;
  fail(`-o/--output must be json, tsv or none, not "${text}"`);
}

function parseQuery(text: string): Step[] {
  const steps: Step[] = [];
  const pattern = /\[\]|\[(\d+)\]|\.?([A-Za-z_][A-Za-z0-9_]*)/y;
  let at = 0;
  const source = text.trim();
  while (at < source.length) {
    pattern.lastIndex = at;
    const m = pattern.exec(source);
    if (!m || (m[2] !== undefined && at === 0 && m[0].startsWith('.'))) {
      fail(`--query "${text}" is not supported; use a field path such as primaryKey, rights[0] or [].name`);
    }
    if (m[0] === '[]') steps.push({ kind: 'each' });
    else if (m[1] !== undefined) steps.push({ kind: 'index', index: Number(m[1]) });
    else steps.push({ kind: 'field', name: m[2]! });
    at = pattern.lastIndex;
  }
  if (steps.length === 0) fail('--query must not be empty');
  return steps;
}

function select(value: unknown, steps: Step[]): unknown {
  if (steps.length === 0) return value;
  const [step, ...rest] = steps;
  if (step!.kind === 'each') return Array.isArray(value) ? value.map((item) => select(item, rest)) : null;
  if (step!.kind === 'index') return Array.isArray(value) ? select(value[step!.index], rest) : null;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return null;
  const record = value as Record<string, unknown>;
  // az matches field names exactly; a differently-cased name selects nothing, as there.
  return select(record[step!.name], rest);
}

/** One tsv line: az prints objects as their values, lists tab-joined, booleans as True/False. */
function tsvRow(value: unknown): string {
  if (Array.isArray(value)) return value.map(tsvCell).join('\t');
  if (typeof value === 'object' && value !== null) return Object.values(value).map(tsvCell).join('\t');
  return tsvCell(value);
}

function tsvCell(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'boolean') return value ? 'True' : 'False';
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}
