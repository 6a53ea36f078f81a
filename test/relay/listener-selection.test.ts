/**
 * Listener selection as a policy (issue 13): round robin over listeners that are open, not
 * write-blocked and not recently silent; strained ones only when no other can take the work;
 * over-budget ones never. A listener that leaves a sender waiting past the hand-off is demoted, not
 * offered every Nth connection (pairing-handoff.test.ts shows that on a relay).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Eligibility, eligibilityOf, pickRoundRobin } from '../../src/relay/listener-selection.js';

describe('listener selection policy', () => {
  const ready = { open: true, writeBlocked: false, overBudget: false, silentUntil: 0 };

  it('sorts listeners into ready, strained and excluded', () => {
    const now = 1_000_000;
    assert.equal(eligibilityOf(ready, now), Eligibility.Ready);
    assert.equal(eligibilityOf({ ...ready, writeBlocked: true }, now), Eligibility.Strained);
    assert.equal(eligibilityOf({ ...ready, silentUntil: now + 1 }, now), Eligibility.Strained);
    assert.equal(eligibilityOf({ ...ready, silentUntil: now - 1 }, now), Eligibility.Ready, 'the demotion ends');
    assert.equal(eligibilityOf({ ...ready, overBudget: true }, now), Eligibility.Excluded);
    assert.equal(eligibilityOf({ ...ready, open: false }, now), Eligibility.Excluded);
  });

  it('goes round robin over the ready ones, falls back to the first strained one, never to an excluded one', () => {
    const tiers = (list: Eligibility[]) => (start: number) => pickRoundRobin(list, start, (e) => e);
    const rr = tiers([Eligibility.Ready, Eligibility.Strained, Eligibility.Ready, Eligibility.Excluded]);
    assert.deepEqual([0, 1, 2, 3].map(rr), [0, 2, 2, 0]);
    const fallback = tiers([Eligibility.Excluded, Eligibility.Strained, Eligibility.Strained]);
    assert.deepEqual([0, 1, 2].map(fallback), [1, 1, 2]);
    assert.equal(tiers([Eligibility.Excluded, Eligibility.Excluded])(0), -1);
    assert.equal(tiers([])(0), -1);
  });
});
