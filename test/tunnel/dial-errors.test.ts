import assert from 'node:assert/strict';
import { lookup } from 'node:dns/promises';
import { connect, createServer } from 'node:net';
import { describe, it } from 'node:test';
import { acceptedResponse, capacityResponse, type ConnectResponse, DIAL_FAILURE_CODES, rejectedResponse, Rejection } from '../../src/protocol/aztunnel-envelope.js';
import { classifyDialError, ConnectTimeoutError, failureFromResponse, socks5ReplyFor, type TunnelFailure } from '../../src/tunnel/dial-errors.js';

function nodeError(code: string, syscall: string): NodeJS.ErrnoException {
  const err: NodeJS.ErrnoException = new Error(`${syscall} ${code}`);
  err.code = code;
  err.syscall = syscall;
  return err;
}

describe('classifyDialError', () => {
  const socketCases: [string, string][] = [
    ['ECONNREFUSED', 'connection_refused'],
    ['EHOSTUNREACH', 'host_unreachable'],
    ['EHOSTDOWN', 'host_unreachable'],
    ['ENETUNREACH', 'network_unreachable'],
    ['ENETDOWN', 'network_unreachable'],
    ['ETIMEDOUT', 'timeout'],
  ];
  for (const [code, expected] of socketCases) {
    it(`classifies a connect ${code} as ${expected}`, () => assert.equal(classifyDialError(nodeError(code, 'connect')), expected));
  }

  const dnsCases: [string, string, string][] = [
    ['ENOTFOUND', 'getaddrinfo', 'dns_not_found'],
    ['EAI_NONAME', 'getaddrinfo', 'dns_not_found'],
    ['EAI_FAIL', 'getaddrinfo', 'dns_not_found'],
    ['EAI_NODATA', 'getaddrinfo', 'dns_not_found'],
    ['EAI_AGAIN', 'getaddrinfo', 'dns_timeout'],
    ['ENOTFOUND', 'queryA', 'dns_not_found'],
    ['ESERVFAIL', 'queryAaaa', 'dns_not_found'],
    ['ENODATA', 'queryA', 'dns_not_found'],
    ['ETIMEOUT', 'queryA', 'dns_timeout'],
    // c-ares reports a refusing DNS server as ECONNREFUSED: that is a DNS failure, not the target.
    ['ECONNREFUSED', 'queryA', 'dns_not_found'],
    ['ENOTFOUND', '', 'dns_not_found'],
  ];
  for (const [code, syscall, expected] of dnsCases) {
    it(`classifies ${syscall || 'an'} ${code} as ${expected}`, () => assert.equal(classifyDialError(nodeError(code, syscall)), expected));
  }

  it('classifies our own connect timeout and AbortSignal.timeout()', () => {
    const ours = new ConnectTimeoutError('10.0.0.5:22', 30_000);
    assert.equal(classifyDialError(ours), 'timeout');
    assert.match(ours.message, /10\.0\.0\.5:22 timed out after 30000 ms/);
    assert.equal(classifyDialError(new DOMException('timed out', 'TimeoutError')), 'timeout');
  });

  it('looks inside AggregateError (happy eyeballs) and AbortError causes', () => {
    const aggregate = new AggregateError([new Error('no code'), nodeError('ENETUNREACH', 'connect'), nodeError('ECONNREFUSED', 'connect')], 'all failed');
    assert.equal(classifyDialError(aggregate), 'network_unreachable');
    const abort = Object.assign(new Error('aborted'), { name: 'AbortError', code: 'ABORT_ERR', cause: new DOMException('t', 'TimeoutError') });
    assert.equal(classifyDialError(abort), 'timeout');
  });

  it('leaves what it cannot classify unclassified', () => {
    for (const value of [new Error('plain'), nodeError('EACCES', 'connect'), nodeError('ECONNRESET', 'read'), 'ECONNREFUSED', null, undefined, 42]) {
      assert.equal(classifyDialError(value), undefined);
    }
  });

  it('classifies real errors from node:net and node:dns', async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    await new Promise<void>((resolve) => server.close(() => resolve()));
    const refused = await new Promise<unknown>((resolve) => connect({ host: '127.0.0.1', port }).once('error', resolve));
    assert.equal(classifyDialError(refused), 'connection_refused');

    const aborted = await new Promise<unknown>((resolve) => connect({ host: '127.0.0.1', port, signal: AbortSignal.timeout(0) }).once('error', resolve));
    assert.ok(['timeout', 'connection_refused'].includes(classifyDialError(aborted) ?? ''));

    const dnsError = await lookup('no-such-host.invalid').then(
      () => undefined,
      (err: unknown) => err,
    );
    assert.ok(['dns_not_found', 'dns_timeout'].includes(classifyDialError(dnsError) ?? ''), String(dnsError));
  });
});

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
