/**
 * Refused handshakes (protocol reference §3.1, §3.3, §3.7): wrong key, expired token, missing
 * right, unknown hybrid connection, no listener. Each gets its documented status on the listen,
 * connect and HTTP paths, and a healthy connection on the same relay carries on untouched.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createSasToken } from '../../src/protocol/sas-token.js';
import { ROOT_KEY, ROOT_RULE, type TestRelay } from '../helpers/relay.js';
import { expectRefusal, hcUrl, httpRequest, startRelayWithHealthyLink, stopRelayWithHealthyLink, type HealthyLink, type HttpAnswer } from './protocol-peers.js';

describe('refused handshakes', () => {
  let relay: TestRelay;
  let healthy: HealthyLink;

  before(async () => ({ relay, healthy } = await startRelayWithHealthyLink({ hybridConnections: ['hc', 'empty', 'healthy'] })));
  after(() => stopRelayWithHealthyLink(relay, healthy));

  const listen = (token: string | undefined, entity = 'hc') => expectRefusal(hcUrl(relay, entity, 'listen'), token === undefined ? {} : { ServiceBusAuthorization: token });
  const connect = (token: string | undefined, entity = 'hc') => expectRefusal(hcUrl(relay, entity, 'connect'), token === undefined ? {} : { ServiceBusAuthorization: token });
  const post = (token: string | undefined, path = '/hc/x'): Promise<HttpAnswer> =>
    httpRequest(`${relay.httpBase}${path}`, { method: 'POST', headers: token === undefined ? {} : { ServiceBusAuthorization: token }, body: Buffer.from('data') });

  function assertJsonError(answer: HttpAnswer, status: number, code?: string): void {
    assert.equal(answer.status, status, `HTTP status (${answer.reason})`);
    const body = JSON.parse(answer.body.toString('utf8')) as { error?: { code?: string; message?: string } };
    assert.equal(typeof body.error?.message, 'string');
    if (code) assert.equal(body.error?.code, code);
    assert.equal(answer.headers.via, undefined, 'an answer from the relay itself carries no Via');
  }

  it('a token signed with the wrong key gets 401 for listen, connect and HTTP', async () => {
    const bad = relay.token('hc', { key: 'definitely-not-the-key' });
    assert.equal((await listen(bad)).status, 401);
    assert.equal((await connect(bad)).status, 401);
    assertJsonError(await post(bad), 401, 'TokenMissingOrInvalid');
    // Unknown key name and no token at all are 401 too.
    assert.equal((await listen(relay.token('hc', { keyName: 'NoSuchRule' }))).status, 401);
    assert.equal((await connect(undefined)).status, 401);
    assertJsonError(await post(undefined), 401);
    await healthy.check();
  });

  it('an expired token gets 401 for listen, connect and HTTP (also in sb-hc-token)', async () => {
    const expired = createSasToken(`http://127.0.0.1:${relay.port}/hc`, ROOT_RULE, ROOT_KEY, Math.floor(Date.now() / 1000) - 5);
    assert.equal((await listen(expired)).status, 401);
    assert.equal((await connect(expired)).status, 401);
    assert.equal((await expectRefusal(hcUrl(relay, 'hc', 'connect', `sb-hc-token=${encodeURIComponent(expired)}`))).status, 401);
    assertJsonError(await post(expired), 401);
    await healthy.check();
  });

  it('a rule without the needed right gets 403 (Send-only listening, Listen-only sending)', async () => {
    const sendOnly = await relay.server.store.putRule('hc', 'sendonly', ['Send']);
    const listenOnly = await relay.server.store.putRule('hc', 'listenonly', ['Listen']);
    const sendToken = relay.token('hc', { keyName: 'sendonly', key: sendOnly.primaryKey });
    const listenToken = relay.token('hc', { keyName: 'listenonly', key: listenOnly.primaryKey });
    assert.equal((await listen(sendToken)).status, 403);
    assert.equal((await connect(listenToken)).status, 403);
    assertJsonError(await post(listenToken), 403);
    // A token for another hybrid connection is not a token for this one.
    assert.equal((await listen(relay.token('empty'))).status, 401);
    await healthy.check();
  });

  it('an unknown hybrid connection gets 404 for listen, connect and HTTP', async () => {
    const token = relay.token('nosuch');
    const l = await listen(token, 'nosuch');
    assert.equal(l.status, 404);
    assert.match(l.message, /Endpoint does not exist/);
    assert.equal((await connect(token, 'nosuch')).status, 404);
    assertJsonError(await post(token, '/nosuch/x'), 404, 'EndpointNotFound');
    await healthy.check();
  });

  it('no listener: a WebSocket sender gets 404, an HTTP request 502', async () => {
    const token = relay.token('empty');
    assert.equal(relay.server.registry.count('empty'), 0);
    assert.equal((await connect(token, 'empty')).status, 404);
    assertJsonError(await post(token, '/empty/x'), 502);
    assertJsonError(await httpRequest(`${relay.httpBase}/empty`, { headers: { ServiceBusAuthorization: token } }), 502);
    await healthy.check();
  });
});
