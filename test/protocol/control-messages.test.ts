import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseHeaderMap, parseServiceCommand } from '../../src/protocol/control-messages.js';

describe('control-channel header maps (fuzz regressions)', () => {
  it('a header named __proto__ is kept as a header, not taken as the prototype (fuzz: {"__proto__":[]})', () => {
    const map = parseHeaderMap(JSON.parse('{"__proto__":[]}'), 'headers');
    assert.deepEqual(Object.entries(map ?? {}), [['__proto__', []]]);
    assert.equal(Object.getPrototypeOf(map), Object.prototype);
    const command = parseServiceCommand('{"accept":{"address":"wss://r/x","id":"1","connectHeaders":{"__proto__":"a","constructor":"b"}}}');
    assert.ok(command.kind === 'accept');
    assert.deepEqual(Object.entries(command.accept.connectHeaders), [['__proto__', 'a'], ['constructor', 'b']]);
  });
});
