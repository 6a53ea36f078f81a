import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatTextRecord } from '../../src/util/logger.js';

describe('text log lines', () => {
  const line = (record: Record<string, unknown>) => formatTextRecord(JSON.stringify({ level: 30, time: 0, ...record }));

  it('never let control characters from client-chosen text through raw (ESC, BS, NUL, CR, DEL, C1, bidi overrides)', () => {
    const hostile = 'a\u001b[2J\u0008\u0000\r\u007f\u009b\u202e\u2028z';
    const text = line({ msg: `refused ${hostile}`, reason: hostile, nested: { path: hostile } });
    // eslint-disable-next-line no-control-regex -- looking for control characters is the point
    assert.equal(text.replace(/\n$/, '').match(/[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e]/), null, JSON.stringify(text));
    assert.match(text, /refused a\\u001b\[2J\\u0008\\u0000\\u000d\\u007f\\u009b\\u202e\\u2028z/);
    assert.match(text, /reason="a\\u001b\[2J\\b\\u0000\\r\\u007f\\u009b\\u202e\\u2028z"/);
    assert.ok(text.endsWith('\n') && text.indexOf('\n') === text.length - 1, 'one line');
  });

  it('leaves ordinary values as they were', () => {
    assert.equal(line({ msg: 'listener online', hyco: 'web', listeners: 2, remote: '127.0.0.1', note: 'two words' }), '1970-01-01T00:00:00.000Z INFO  listener online hyco=web listeners=2 remote=127.0.0.1 note="two words"\n');
  });
});
