/**
 * The shared harness of the parser fuzz targets (test/fuzz/*.test.ts): fast-check properties run
 * for a time budget instead of a fixed number of cases, so `npm test` gives each property about a
 * second and `npm run fuzz` as long as asked.
 *
 *   HYBRIDGE_FUZZ_MS    milliseconds per property (default 1000; `npm run fuzz` sets 30000)
 *   HYBRIDGE_FUZZ_SEED  replay a failure: the seed fast-check printed (with HYBRIDGE_FUZZ_PATH)
 *
 * Every property checks what all parsers promise: only the parser's own typed error escapes (or a
 * typed rejection is returned), and no single input takes long (a hang or runaway backtracking).
 */
import assert from 'node:assert/strict';
import fc from 'fast-check';

export { fc };

const budgetMs = Number(process.env.HYBRIDGE_FUZZ_MS ?? 1000);
const seed = process.env.HYBRIDGE_FUZZ_SEED === undefined ? undefined : Number(process.env.HYBRIDGE_FUZZ_SEED);
const path = process.env.HYBRIDGE_FUZZ_PATH;

/** No single input may take longer than this (generous: the machine is shared with other tests). */
export const MAX_CASE_MS = 2000;

type ErrorClass = abstract new (...args: never[]) => Error;

/**
 * Runs `predicate` on inputs from `arbitrary` until the time budget is spent. A predicate fails by
 * throwing (assert) or returning false; fast-check then shrinks the input and reports it with the
 * seed that replays it.
 */
export function fuzz<T>(arbitrary: fc.Arbitrary<T>, predicate: (value: T) => boolean | void): void {
  const property = fc.property(arbitrary, (value) => {
    const started = performance.now();
    const result = predicate(value);
    const ms = performance.now() - started;
    assert.ok(ms < MAX_CASE_MS, `one input took ${Math.round(ms)} ms`);
    return result;
  });
  fc.assert(property, {
    numRuns: Number.MAX_SAFE_INTEGER,
    interruptAfterTimeLimit: budgetMs,
    markInterruptAsFailure: false,
    ...(seed !== undefined && { seed }),
    ...(path !== undefined && { path }),
  });
}

/** Calls `parse`; passes its result on, or undefined when it threw one of `allowed` (anything else fails). */
export function onlyThrows<R>(parse: () => R, ...allowed: ErrorClass[]): R | undefined {
  try {
    return parse();
  } catch (err) {
    if (allowed.some((type) => err instanceof type)) return undefined;
    throw new assert.AssertionError({ message: `threw ${(err as Error)?.name ?? typeof err}: ${(err as Error)?.message ?? String(err)}; only ${allowed.map((t) => t.name).join(', ') || 'nothing'} may escape` });
  }
}

/** `bytes` cut at the given points: every way of chunking a byte stream must decode the same. */
export function split(bytes: Uint8Array, cuts: readonly number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let from = 0;
  for (const at of points) {
    out.push(Buffer.from(bytes.subarray(from, at)));
    from = at;
  }
  out.push(Buffer.from(bytes.subarray(from)));
  return out;
}

/** Cut points for `split`. */
export const cuts = fc.array(fc.nat(), { maxLength: 12 });

/** Bytes, mostly short, sometimes a few KiB. */
export const bytes = fc.oneof({ weight: 4, arbitrary: fc.uint8Array({ maxLength: 64 }) }, { weight: 1, arbitrary: fc.uint8Array({ maxLength: 4096 }) });

/** Text that stresses parsers: any code points, lone surrogates, controls, and separators. */
export const text = fc.oneof(
  fc.string({ maxLength: 64, unit: 'grapheme' }),
  fc.string({ maxLength: 64, unit: 'binary' }),
  fc.string({ maxLength: 200, unit: fc.constantFrom(...':/;[]%.@?#&=\\ \t\r\n\0*-_~+,\'"{}$!'.split(''), 'a', 'Z', '0', '9', '1', 'ff', '%2f', '%2e', '%5c', '..', '::') }),
);

/** Object keys that break naive code (prototype pollution, shadowed built-ins). */
export const trickyKeys = fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'valueOf');
