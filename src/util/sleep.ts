/**
 * Waits `ms`, or less when `signal` aborts first (it resolves either way: callers check
 * `signal.aborted` when an abort means something to them). The abort listener is removed when the
 * time is up, so retry loops sharing one signal do not pile listeners onto it.
 */
import { clearTimer } from './clear-timer.js';
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimer(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}
