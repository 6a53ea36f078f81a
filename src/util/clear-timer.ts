/**
 * Node keeps one list of timers per duration, and when a timer is cleared it drops the emptied
 * list only if that timer was ref'd: an unref'd timer leaves its list behind (lib/timers.js keeps
 * unref'd lists on purpose, expecting the same duration again soon). For a computed duration (a
 * token's expiry, a backoff) every timer cleared that way leaves one list that nothing frees: the
 * relay kept about 120 bytes for every listener control channel that closed before its token
 * expired. Re-ref'ing the timer first lets Node drop the list; on a timer that already fired or
 * was cleared, ref() does nothing.
 */
export function clearTimer(timer: NodeJS.Timeout | undefined): void {
  if (timer === undefined) return;
  timer.ref();
  clearTimeout(timer);
}
