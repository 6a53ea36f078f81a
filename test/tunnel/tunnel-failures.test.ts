import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { acceptedResponse, capacityResponse, type ConnectResponse, DIAL_FAILURE_CODES, rejectedResponse, Rejection } from '../../src/protocol/aztunnel-envelope.js';
import { failureFromResponse, socks5ReplyFor, type TunnelFailure } from '../../src/tunnel/tunnel-failures.js';

describe('failureFromResponse', () => {
  const cases: [string, ConnectResponse, TunnelFailure][] = [
    ['an allowlist rejection', rejectedResponse(Rejection.TargetNotAllowed), 'not_allowed'],
    ['a capacity refusal', capacityResponse(), 'max_connections'],
    ['a capacity refusal without code', { ok: false, error: 'listener at capacity' }, 'max_connections'],
    ['connection failed without code (older aztunnel)', rejectedResponse(Rejection.ConnectionFailed), 'dial_failed'],
    ['connection failed with an unknown code', { ok: false, error: 'connection failed', code: 'from_the_future' }, 'dial_failed'],
    ['invalid envelope', rejectedResponse(Rejection.InvalidEnvelope), 'rejected'],
    ['unsupported protocol version', rejectedResponse(Rejection.UnsupportedVersion), 'rejected'],
    ['missing target', rejectedResponse(Rejection.MissingTarget), 'rejected'],
    ['invalid target', rejectedResponse(Rejection.InvalidTarget), 'rejected'],
    ['no error at all', { ok: false }, 'rejected'],
  ];
  for (const [name, response, expected] of cases) {
    it(`reads ${name} as ${expected}`, () => assert.equal(failureFromResponse(response), expected));
  }

  it('reads each dial code', () => {
    for (const code of DIAL_FAILURE_CODES) assert.equal(failureFromResponse(rejectedResponse(Rejection.ConnectionFailed, code)), code);
  });

  it('is not meant for accepted responses but does not crash on one', () => {
    assert.equal(failureFromResponse(acceptedResponse()), 'rejected');
  });
});

describe('socks5ReplyFor', () => {
  const table: [TunnelFailure, number][] = [
    ['not_allowed', 0x02],
    ['connection_refused', 0x05],
    ['network_unreachable', 0x03],
    ['host_unreachable', 0x04],
    ['timeout', 0x06],
    ['dns_not_found', 0x04],
    ['dns_timeout', 0x04],
    ['dial_failed', 0x04],
    ['max_connections', 0x01],
    ['rejected', 0x01],
    ['relay_failed', 0x01],
  ];
  for (const [failure, reply] of table) {
    it(`maps ${failure} to 0x0${reply}`, () => assert.equal(socks5ReplyFor(failure), reply));
  }
});
