import assert from 'node:assert/strict';
import { lookup } from 'node:dns/promises';
import { connect, createServer } from 'node:net';
import { describe, it } from 'node:test';
import { classifyDialError, ConnectTimeoutError } from '../../src/forwarding/dial-errors.js';

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
