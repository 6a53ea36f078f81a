import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { DataDirectoryError } from '../../src/relay/file-store-backend.js';
import { MAX_IP_RULES } from '../../src/relay/ip-rules.js';
import { startRelay, type TestRelay } from '../helpers/relay.js';

type Body = Record<string, unknown> & { error?: { code: string; message: string } };

describe('management API: network rule set', () => {
  let relay: TestRelay;
  const call = async (method: string, path: string, body?: unknown, token: string = relay.token('')) => {
    const headers: Record<string, string> = { ServiceBusAuthorization: token };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const res = await fetch(`${relay.httpBase}/$hybridge/v1/networkrulesets${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
      signal: AbortSignal.timeout(5000),
    });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : undefined) as Body };
  };
  const rulesNow = () => relay.server.store.networkRuleSet();

  before(async () => {
    relay = await startRelay({ hybridConnections: ['web'] });
  });
  after(async () => {
    await relay.stop();
  });

  test('a new namespace allows every address; the set reads as az shows it, alone in the list', async () => {
    const shown = await call('GET', '/default');
    assert.equal(shown.status, 200);
    assert.deepEqual(shown.body, { name: 'default', type: 'Microsoft.Relay/Namespaces/NetworkRuleSets', defaultAction: 'Allow', ipRules: [] });
    const listed = await call('GET', '');
    assert.deepEqual(listed.body, [shown.body]);
  });

  test('add, insert, list, change the default action, remove, replace', async () => {
    assert.equal((await call('POST', '/default/iprules', { ipMask: '127.0.0.1', action: 'Allow' })).status, 200);
    const added = await call('POST', '/default/iprules', { ipMask: '10.6.6.9/24', action: 'deny', position: 1 });
    assert.deepEqual(added.body.ipRules, [
      { ipMask: '10.6.6.0/24', action: 'Deny' },
      { ipMask: '127.0.0.1', action: 'Allow' },
    ]);
    assert.equal((await call('POST', '/default/iprules', { ipMask: '2001:db8::/32' })).status, 200, 'the action defaults to Allow, as in az');
    assert.deepEqual((await call('GET', '/default/iprules')).body, [
      { ipMask: '10.6.6.0/24', action: 'Deny' },
      { ipMask: '127.0.0.1', action: 'Allow' },
      { ipMask: '2001:db8::/32', action: 'Allow' },
    ]);
    const denied = await call('PATCH', '/default', { defaultAction: 'Deny' });
    assert.equal(denied.status, 200);
    assert.equal(denied.body.defaultAction, 'Deny');
    assert.equal((denied.body.ipRules as unknown[]).length, 3, 'PATCH keeps what it does not name');
    assert.deepEqual(relay.server.store.decideAddress('10.6.6.200'), { allowed: false, rule: 1 });
    assert.deepEqual(relay.server.store.decideAddress('10.7.0.1'), { allowed: false, rule: 'default' });

    const removed = await call('DELETE', `/default/iprules/${encodeURIComponent('10.6.6.0/24')}`);
    assert.equal(removed.status, 200);
    assert.deepEqual((removed.body.ipRules as { ipMask: string }[]).map((r) => r.ipMask), ['127.0.0.1', '2001:db8::/32']);

    // Azure's REST shape ({"properties": {...}}) replaces the whole set.
    const replaced = await call('PUT', '/default', { properties: { defaultAction: 'Deny', ipRules: [{ ipMask: '127.0.0.0/8', action: 'Allow' }] } });
    assert.equal(replaced.status, 200);
    assert.deepEqual(rulesNow(), { defaultAction: 'Deny', ipRules: [{ ipMask: '127.0.0.0/8', action: 'Allow' }] });
    assert.equal((await call('PUT', '/default', { defaultAction: 'Allow' })).status, 200);
    assert.deepEqual(rulesNow(), { defaultAction: 'Allow', ipRules: [] }, 'PUT without ipRules clears them');
  });

  test('invalid input gets 400/404/405/409 with a clear message and changes nothing', async () => {
    await call('PUT', '/default', { defaultAction: 'Allow', ipRules: [{ ipMask: '10.0.0.0/8', action: 'Deny' }] });
    const before = structuredClone(rulesNow());
    const cases: [string, string, unknown, number, RegExp][] = [
      ['POST', '/default/iprules', { ipMask: '10.0.0.0/33', action: 'Allow' }, 400, /prefix length must be a number from 0 to 32/],
      ['POST', '/default/iprules', { ipMask: 'intranet', action: 'Allow' }, 400, /not an IP address or network/],
      ['POST', '/default/iprules', { action: 'Allow' }, 400, /ipMask must be a string/],
      ['POST', '/default/iprules', { ipMask: '11.0.0.0/8', action: 'Accept' }, 400, /action must be Allow or Deny, not "Accept"/],
      ['POST', '/default/iprules', { ipMask: '11.0.0.0/8', position: 5 }, 400, /position must be a whole number from 1 to 2/],
      ['POST', '/default/iprules', { ipMask: '10.1.2.3/8', action: 'Allow' }, 409, /IP rule for 10\.0\.0\.0\/8 already exists/],
      ['POST', '/default/iprules', '{oops', 400, /not valid JSON/],
      ['DELETE', `/default/iprules/${encodeURIComponent('11.0.0.0/8')}`, undefined, 404, /no IP rule for 11\.0\.0\.0\/8/],
      ['PATCH', '/default', { defaultAction: 'Sometimes' }, 400, /defaultAction must be Allow or Deny/],
      ['PUT', '/default', { ipRules: [] }, 400, /defaultAction \(Allow or Deny\) is required/],
      ['PUT', '/default', { defaultAction: 'Allow', ipRules: Array.from({ length: MAX_IP_RULES + 1 }, (_, i) => ({ ipMask: `10.0.${i}.0/24` })) }, 400, /at most 128 IP rules/],
      ['GET', '/other', undefined, 404, /one network rule set, "default"/],
      ['POST', '', undefined, 405, /not allowed/],
      ['PUT', '/default/iprules', undefined, 405, /not allowed/],
      ['GET', '/default/iprules/10.0.0.0%2F8', undefined, 405, /not allowed/],
    ];
    for (const [method, path, body, status, message] of cases) {
      const answer = await call(method, path, body);
      assert.equal(answer.status, status, `${method} ${path} ${JSON.stringify(body)?.slice(0, 80)}`);
      assert.match(answer.body.error?.message ?? '', message);
    }
    assert.deepEqual(rulesNow(), before);
  });

  test('no change may refuse the caller\'s own address (409), so the API cannot lock its manager out', async () => {
    await call('PUT', '/default', { defaultAction: 'Allow', ipRules: [] });
    const lockout = await call('PATCH', '/default', { defaultAction: 'Deny' });
    assert.equal(lockout.status, 409);
    assert.match(lockout.body.error?.message ?? '', /would refuse the address this request comes from \(127\.0\.0\.1\)/);
    assert.equal((await call('POST', '/default/iprules', { ipMask: '127.0.0.0/8', action: 'Deny' })).status, 409);
    assert.deepEqual(rulesNow(), { defaultAction: 'Allow', ipRules: [] });
    await call('POST', '/default/iprules', { ipMask: '127.0.0.1', action: 'Allow' });
    assert.equal((await call('PATCH', '/default', { defaultAction: 'Deny' })).status, 200);
    assert.equal((await call('DELETE', '/default/iprules/127.0.0.1')).status, 409, 'removing the rule that admits the caller');
    await call('PUT', '/default', { defaultAction: 'Allow' });
  });

  test('only a namespace-level Manage rule may read or change the set', async () => {
    const rule = await relay.server.store.putRule('web', 'web-manage', ['Manage']);
    const scoped = await call('GET', '/default', undefined, relay.token('web', { keyName: 'web-manage', key: rule.primaryKey }));
    assert.equal(scoped.status, 403);
    const send = await relay.server.store.putRule(undefined, 'sender', ['Send']);
    assert.equal((await call('GET', '/default', undefined, relay.token('', { keyName: 'sender', key: send.primaryKey }))).status, 403, 'a Send rule does not manage');
    assert.equal((await call('GET', '/default', undefined, 'SharedAccessSignature sr=x&sig=y&se=1&skn=z')).status, 401);
  });
});

describe('network rule set: storage', () => {
  test('the set survives a restart of the file store and is enforced from the first request', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'hybridge-iprules-'));
    try {
      const first = await startRelay({ dataDir });
      await first.server.store.changeNetworkRuleSet(() => ({ defaultAction: 'Deny', ipRules: [{ ipMask: '127.0.0.1', action: 'Allow' }, { ipMask: '2001:db8::/32', action: 'Deny' }] }));
      await first.stop();
      assert.match(readFileSync(join(dataDir, 'namespace.json'), 'utf8'), /"networkRuleSet"/);

      const second = await startRelay({ dataDir });
      try {
        assert.deepEqual(second.server.store.networkRuleSet(), { defaultAction: 'Deny', ipRules: [{ ipMask: '127.0.0.1', action: 'Allow' }, { ipMask: '2001:db8::/32', action: 'Deny' }] });
        assert.deepEqual(second.server.store.decideAddress('127.0.0.1'), { allowed: true, rule: 1 });
        assert.deepEqual(second.server.store.decideAddress('127.0.0.2'), { allowed: false, rule: 'default' });
      } finally {
        await second.stop();
      }
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  test('a hand-edited set that does not parse stops the server with the reason, instead of failing open', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'hybridge-iprules-'));
    try {
      const first = await startRelay({ dataDir });
      await first.stop();
      const file = join(dataDir, 'namespace.json');
      const doc = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
      doc.networkRuleSet = { defaultAction: 'Allow', ipRules: [{ ipMask: '10.0.0.0/40', action: 'Deny' }] };
      writeFileSync(file, JSON.stringify(doc));
      await assert.rejects(startRelay({ dataDir }), (err: unknown) => err instanceof DataDirectoryError && /networkRuleSet is not valid \(.*prefix length must be a number from 0 to 32\)/.test(err.message));
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
