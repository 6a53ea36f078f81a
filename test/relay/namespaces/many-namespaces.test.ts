/**
 * Fifty namespaces created, used and deleted on one relay (the figures for 500 come from
 * bench/namespaces/namespace-churn.ts; this asserts what it does, not how fast).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { namespaceChurn } from '../../../bench/namespaces/namespace-churn.js';

describe('many namespaces', () => {
  it('creates 50 namespaces, carries one listener and one sender in each, and deletes them without a trace', async () => {
    const figures = await namespaceChurn(50);
    assert.equal(figures.count, 50);
    assert.equal(figures.used, 50, 'every namespace relayed its sender\'s bytes intact');
    assert.deepEqual(figures.left, { served: 0, onDisk: 0 });
  });
});
