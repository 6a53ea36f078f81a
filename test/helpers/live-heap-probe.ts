/**
 * Preloaded (`node --expose-gc --import <this>`, see live-heap.ts) into processes a test starts,
 * never shipped with hybridge: on SIGUSR2 it runs full garbage collections and prints what is still
 * reachable (V8 heap plus memory outside it that JavaScript objects hold, Buffers among them) as
 * one line, `LIVE-HEAP <request> <bytes>`. RSS keeps whatever heap V8 grew to; this is what the
 * process holds.
 */
const collect = (globalThis as { gc?: () => void }).gc;
let requests = 0;

process.on('SIGUSR2', () => {
  const request = ++requests;
  if (!collect) {
    process.stderr.write(`LIVE-HEAP ${request} unavailable\n`);
    return;
  }
  // Two rounds, a turn apart: what the first frees can release more (weak callbacks, finalizers).
  collect();
  setImmediate(() => {
    collect();
    const usage = process.memoryUsage();
    process.stderr.write(`LIVE-HEAP ${request} ${usage.heapUsed + usage.external}\n`);
  });
});
