import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createSasToken } from '../../../src/protocol/sas-token.js';
import { parseRelayEndpoint, buildHybridConnectionUrl, formatEndpoint } from '../../../src/protocol/relay-endpoint.js';
import { namespaceAudience } from '../../../src/relay/namespaces/namespace-audience.js';
import { namespaceOfHost } from '../../../src/relay/namespaces/namespace-address.js';
import { directoryKey, namespaceNameProblem } from '../../../src/relay/namespaces/namespace-name.js';

const resourceOf = (token: string) => decodeURIComponent(/sr=([^&]*)/.exec(token)![1]!);

describe('namespace names and addresses', () => {
  it('accepts names as Azure does: 6 to 50 letters, digits and hyphens, a letter first, no hyphen last', () => {
    for (const good of ['tenant', 'Tenant-01', 'a'.repeat(50), 'ab-cd-e1']) assert.equal(namespaceNameProblem(good), undefined, good);
    for (const bad of ['short', 'a'.repeat(51), '1tenant', 'tenant-', 'ten_ant', 'ten.ant', 'tenänt', '']) assert.match(namespaceNameProblem(bad) ?? '', /not a valid namespace name/, bad);
  });

  it('keeps the default namespace\'s directory keys as they were and gives hosted ones keys no hybrid connection name can have', () => {
    assert.equal(directoryKey('', 'web'), 'web');
    assert.equal(directoryKey('tenant', 'web'), 'tenant:web');
  });

  it('finds the namespace in a Host header under the domain, and nothing elsewhere', () => {
    assert.equal(namespaceOfHost('tenant.relay.example.com:9350', 'relay.example.com'), 'tenant');
    assert.equal(namespaceOfHost('TENANT.Relay.Example.com', 'relay.example.com'), 'tenant');
    assert.equal(namespaceOfHost('relay.example.com', 'relay.example.com'), undefined);
    assert.equal(namespaceOfHost('tenant.other.example.com', 'relay.example.com'), undefined);
    assert.equal(namespaceOfHost('[::1]:9350', 'relay.example.com'), undefined);
  });

  it('takes only audiences that name the namespace, by host or by path prefix', () => {
    const inTenant = namespaceAudience('tenant', 'relay.example.com');
    const sign = (audience: string) => resourceOf(createSasToken(audience, 'k', 'key', 2_000_000_000));
    assert.equal(inTenant(sign('http://tenant.relay.example.com/web')), 'web');
    assert.equal(inTenant(sign('http://127.0.0.1/$ns/tenant/web/')), 'web');
    assert.equal(inTenant(sign('http://127.0.0.1/$ns/tenant/')), '');
    assert.equal(inTenant(sign('http://other1.relay.example.com/web')), undefined);
    assert.equal(inTenant(sign('http://127.0.0.1/$ns/other1/web')), undefined);
    assert.equal(inTenant(sign('http://127.0.0.1/web')), undefined);
    // The default namespace takes any host, as before.
    assert.equal(namespaceAudience('', undefined)(sign('http://anything/web')), 'web');
  });

  it('parses an endpoint with a /$ns/{namespace} path and builds every address on it', () => {
    const endpoint = parseRelayEndpoint('ws://127.0.0.1:9350/$ns/Tenant/');
    assert.deepEqual(endpoint, { secure: false, host: '127.0.0.1', port: 9350, namespacePath: '/$ns/tenant' });
    assert.equal(formatEndpoint(endpoint), 'ws://127.0.0.1:9350/$ns/tenant/');
    assert.equal(buildHybridConnectionUrl(endpoint, 'web', 'listen'), 'ws://127.0.0.1:9350/$ns/tenant/$hc/web?sb-hc-action=listen');
    assert.throws(() => parseRelayEndpoint('ws://127.0.0.1:9350/other/path'), /must not contain a path other than/);
  });
});
