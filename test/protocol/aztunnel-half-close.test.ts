/**
 * hybridge's half-close advertisement in aztunnel's envelope and response: `"half_close":true`
 * after aztunnel's own fields, only when set, and only a literal true counts when read (aztunnel
 * ends leave it out; its Go decoder ignores it).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encodeConnectEnvelope, encodeConnectResponse, parseConnectEnvelope, parseConnectResponse } from '../../src/protocol/aztunnel-envelope.js';

describe('aztunnel envelope: half_close', () => {
  it('is written last, and only when set', () => {
    assert.equal(encodeConnectEnvelope({ target: 'db:5432', bridgeId: 'MFRGGZDFMZTWQ2LK', halfClose: true }), '{"version":1,"target":"db:5432","bridge_id":"MFRGGZDFMZTWQ2LK","half_close":true}');
    assert.equal(encodeConnectEnvelope({ target: 'db:5432' }), '{"version":1,"target":"db:5432"}');
    assert.equal(encodeConnectResponse({ ok: true, listenerId: 'ABCDEFGHIJKLMNOP', halfClose: true }), '{"version":1,"ok":true,"listener_id":"ABCDEFGHIJKLMNOP","half_close":true}');
    assert.equal(encodeConnectResponse({ ok: true }), '{"version":1,"ok":true}');
  });

  it('is read as true only from a literal true', () => {
    const envelope = (extra: string) => {
      const parsed = parseConnectEnvelope(`{"version":1,"target":"db:5432"${extra}}`);
      assert.ok(parsed.ok);
      return parsed.envelope.halfClose;
    };
    assert.equal(envelope(',"half_close":true'), true);
    for (const other of ['', ',"half_close":false', ',"half_close":"true"', ',"half_close":1', ',"half_close":null']) assert.equal(envelope(other), undefined, other);
    assert.equal(parseConnectResponse('{"version":1,"ok":true,"half_close":true}').halfClose, true);
    assert.equal(parseConnectResponse('{"version":1,"ok":true,"half_close":"yes"}').halfClose, undefined);
    assert.equal(parseConnectResponse('{"version":1,"ok":true}').halfClose, undefined);
  });
});
