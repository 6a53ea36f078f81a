import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setNewest } from '../../src/util/bounded-map.js';

describe('setNewest', () => {
  it('keeps at most `max` entries, dropping the oldest, and makes a key set again the newest', () => {
    const map = new Map<string, number>();
    for (const [i, key] of ['a', 'b', 'c'].entries()) setNewest(map, key, i, 3);
    assert.deepEqual([...map], [['a', 0], ['b', 1], ['c', 2]]);
    setNewest(map, 'a', 10, 3);
    assert.deepEqual([...map], [['b', 1], ['c', 2], ['a', 10]], 'a moved to the end with its new value');
    setNewest(map, 'd', 3, 3);
    assert.deepEqual([...map], [['c', 2], ['a', 10], ['d', 3]], 'b, now the oldest, went');
  });
});
