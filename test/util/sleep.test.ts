import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { describe, it } from 'node:test';
import { sleep } from '../../src/util/sleep.js';

describe('sleep', () => {
  it('waits the time given', async () => {
    const started = performance.now();
    await sleep(30);
    assert.ok(performance.now() - started >= 25);
  });

  it('ends early when the signal aborts, and at once when it already has', async () => {
    const abort = new AbortController();
    const started = performance.now();
    setTimeout(() => abort.abort(), 10);
    await sleep(10_000, abort.signal);
    assert.ok(performance.now() - started < 5_000);
    await sleep(10_000, abort.signal);
  });

  it('leaves no listener on the signal once the time is up', async () => {
    const abort = new AbortController();
    for (let i = 0; i < 5; i++) await sleep(1, abort.signal);
    assert.equal(getEventListeners(abort.signal, 'abort').length, 0);
  });
});
