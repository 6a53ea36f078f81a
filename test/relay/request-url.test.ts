import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { describe, it } from 'node:test';
import { rawHeaderMap } from '../../src/relay/request-url.js';

describe('raw header map (fuzz regression)', () => {
  it('a header named __proto__ is kept, alone and repeated (fuzz: [["__proto__",""]])', () => {
    assert.deepEqual(Object.entries(rawHeaderMap({ rawHeaders: ['__proto__', ''] } as unknown as IncomingMessage)), [['__proto__', '']]);
    const map = rawHeaderMap({ rawHeaders: ['__proto__', 'a', 'X-A', '1', '__PROTO__', 'b'] } as unknown as IncomingMessage);
    assert.deepEqual(Object.entries(map), [['__proto__', 'a, b'], ['X-A', '1']]);
    assert.equal(Object.getPrototypeOf(map), Object.prototype);
  });
});
