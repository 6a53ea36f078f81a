/**
 * A listener control channel that closes before its token expires leaves nothing behind in Node's
 * timers: the relay and the client both clear their expiry timers through clearTimer (an unref'd
 * timer cleared by clearTimeout leaves the list for its duration in Node's map for good; before
 * clearTimer, a churn attack's relay kept ~1 MiB more live heap after every run).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const FIXTURE = fileURLToPath(new URL('./fixtures/listener-churn-timer-lists.js', import.meta.url));
const LISTENERS = 100;

describe('listener channels and timers', () => {
  it(`${LISTENERS} listeners opened and closed leave no timer list per channel`, { timeout: 60_000 }, async () => {
    const { stdout } = await promisify(execFile)(process.execPath, ['--expose-internals', FIXTURE, String(LISTENERS)], { timeout: 50_000 });
    const left = Number(/LISTS-LEFT (-?\d+)/.exec(stdout)?.[1]);
    assert.ok(Number.isFinite(left), stdout);
    // A few durations are constants that stay listed (keep-alives, lingers); one per channel is a leak.
    assert.ok(left < LISTENERS / 10, `${left} timer lists left by ${LISTENERS} listeners`);
  });
});
