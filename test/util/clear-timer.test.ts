/**
 * What clearTimer works around: Node drops the list of timers of one duration when a cleared
 * timer empties it only if that timer was ref'd. Counted from Node's own list map in a child
 * started with --expose-internals (the map is not reachable otherwise).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, it } from 'node:test';

const CLEAR_TIMER = new URL('../../src/util/clear-timer.js', import.meta.url).href;

/** Lists Node still holds after 500 unref'd timers of distinct durations are set and cleared by `clear`. */
function listsLeft(clear: 'clearTimeout' | 'clearTimer'): number {
  const script = `
    const { timerListMap } = require('internal/timers');
    import(${JSON.stringify(CLEAR_TIMER)}).then(({ clearTimer }) => {
      const clear = ${clear === 'clearTimer' ? 'clearTimer' : 'clearTimeout'};
      const before = Object.keys(timerListMap).length;
      for (let i = 0; i < 500; i++) {
        const timer = setTimeout(() => {}, 3_600_000 + i);
        timer.unref();
        clear(timer);
      }
      console.log(Object.keys(timerListMap).length - before);
    });`;
  return Number(execFileSync(process.execPath, ['--expose-internals', '-e', script], { encoding: 'utf8', timeout: 20_000 }).trim());
}

describe('clearTimer', () => {
  it("leaves no list behind for an unref'd timer with a duration of its own, where clearTimeout leaves one each", () => {
    assert.equal(listsLeft('clearTimeout'), 500, "Node's behaviour that clearTimer works around");
    assert.equal(listsLeft('clearTimer'), 0);
  });

  it('does nothing to a timer that fired or was cleared, and the process still exits', () => {
    const script = `
      import(${JSON.stringify(CLEAR_TIMER)}).then(({ clearTimer }) => {
        const fired = setTimeout(() => { clearTimer(fired); clearTimer(fired); console.log('fired'); }, 5);
        fired.unref();
        setTimeout(() => {}, 20);
        const cleared = setTimeout(() => console.log('never'), 60_000);
        cleared.unref();
        clearTimer(cleared);
        clearTimer(cleared);
        clearTimer(undefined);
      });`;
    assert.equal(execFileSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 20_000 }).trim(), 'fired');
  });
});
