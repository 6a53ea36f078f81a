import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { resolveTunnelConnection } from '../../src/tunnel/relay-connection.js';

const CS = 'Endpoint=sb://cs-ns.servicebus.windows.net/;SharedAccessKeyName=rule;SharedAccessKey=secret-key;EntityPath=from-cs';

describe('resolveTunnelConnection (aztunnel flags and environment)', () => {
  it('uses SAS when AZTUNNEL_KEY_NAME and AZTUNNEL_KEY are both set', () => {
    const r = resolveTunnelConnection({}, { AZTUNNEL_RELAY_NAME: 'my-ns', AZTUNNEL_HYCO_NAME: 'hc', AZTUNNEL_KEY_NAME: 'send', AZTUNNEL_KEY: 'k' });
    assert.equal(r.auth, 'sas');
    assert.deepEqual(r.options.endpoint, { secure: true, host: 'my-ns.servicebus.windows.net', port: 443 });
    assert.equal(r.options.entityPath, 'hc');
    assert.equal(r.options.keyName, 'send');
    assert.equal(r.options.key, 'k');
    assert.deepEqual(r.warnings, []);
  });

  it('falls back to Entra ID without both key variables, and says why when one is missing', () => {
    const none = resolveTunnelConnection({ relay: 'my-ns', hyco: 'hc' }, {});
    assert.equal(none.auth, 'entra');
    assert.equal(none.options.useEntraId, true);
    const half = resolveTunnelConnection({ relay: 'my-ns', hyco: 'hc' }, { AZTUNNEL_KEY_NAME: 'send' });
    assert.equal(half.auth, 'entra');
    assert.match(half.warnings.join(), /AZTUNNEL_KEY_NAME is set but AZTUNNEL_KEY is not/);
    assert.doesNotMatch(JSON.stringify(half), /secret/);
  });

  it('lets flags win over the environment and applies the suffix to bare names', () => {
    const r = resolveTunnelConnection({ relay: 'flag-ns', hyco: 'flag-hc', relaySuffix: '.servicebus.chinacloudapi.cn' }, { AZTUNNEL_RELAY_NAME: 'env-ns', AZTUNNEL_HYCO_NAME: 'env-hc' });
    assert.equal((r.options.endpoint as { host: string }).host, 'flag-ns.servicebus.chinacloudapi.cn');
    assert.equal(r.options.entityPath, 'flag-hc');
    const env = resolveTunnelConnection({}, { AZTUNNEL_RELAY_NAME: 'env-ns', AZTUNNEL_HYCO_NAME: 'env-hc', AZTUNNEL_RELAY_SUFFIX: 'example.net' });
    assert.equal((env.options.endpoint as { host: string }).host, 'env-ns.example.net');
  });

  it('takes endpoint, entity and key from a connection string, before the AZTUNNEL_ variables', () => {
    const r = resolveTunnelConnection({ connectionString: CS }, { AZTUNNEL_RELAY_NAME: 'env-ns', AZTUNNEL_HYCO_NAME: 'env-hc', AZTUNNEL_KEY_NAME: 'x', AZTUNNEL_KEY: 'y' });
    assert.equal(r.auth, 'connection-string');
    assert.equal(r.options.connectionString, CS);
    assert.equal((r.options.endpoint as { host: string }).host, 'cs-ns.servicebus.windows.net');
    assert.equal(r.options.entityPath, 'from-cs');
    assert.equal(r.options.keyName, undefined);
    const fromEnv = resolveTunnelConnection({ hyco: 'other' }, { HYBRIDGE_CONNECTION_STRING: CS });
    assert.equal(fromEnv.options.entityPath, 'other', '--hyco overrides EntityPath');
    assert.equal(fromEnv.auth, 'connection-string');
  });

  it('ignores HYBRIDGE_CONNECTION_STRING (exported for management) when the AZTUNNEL_ variables are in use', () => {
    const r = resolveTunnelConnection({}, { HYBRIDGE_CONNECTION_STRING: CS, AZTUNNEL_RELAY_NAME: 'env-ns', AZTUNNEL_HYCO_NAME: 'env-hc', AZTUNNEL_KEY_NAME: 'x', AZTUNNEL_KEY: 'y' });
    assert.equal(r.auth, 'sas');
    assert.equal(r.options.connectionString, undefined);
    assert.equal((r.options.endpoint as { host: string }).host, 'env-ns.servicebus.windows.net');
    assert.equal(r.options.entityPath, 'env-hc');
  });

  it('reads plain ws:// relays and AZTUNNEL_RELAY_INSECURE_TLS=1', () => {
    const r = resolveTunnelConnection({ relay: 'ws://127.0.0.1:9350', hyco: 'hc' }, { AZTUNNEL_RELAY_INSECURE_TLS: '1' });
    assert.deepEqual(r.options.endpoint, { secure: false, host: '127.0.0.1', port: 9350 });
    assert.deepEqual(r.options.tls, { rejectUnauthorized: false });
    assert.match(r.warnings.join(), /certificate checks .* are off/);
  });

  it('says what is missing or wrong in one line', () => {
    assert.throws(() => resolveTunnelConnection({ hyco: 'hc' }, {}), /no relay given: pass --relay \(or set AZTUNNEL_RELAY_NAME\) or --connection-string/);
    assert.throws(() => resolveTunnelConnection({ relay: 'ns' }, {}), /no hybrid connection given: pass --hyco \(or set AZTUNNEL_HYCO_NAME\)/);
    assert.throws(() => resolveTunnelConnection({ relay: 'ftp://x', hyco: 'hc' }, {}), /^RelaySettingsError: --relay: .*unsupported scheme/);
    assert.throws(() => resolveTunnelConnection({ relay: 'ns', hyco: 'bad name' }, {}), /not a valid hybrid connection name/);
    assert.throws(() => resolveTunnelConnection({ connectionString: 'Endpoint=sb://x/;SharedAccessKey=topsecret;Bogus=1' }, {}), (err: Error) => /--connection-string: unknown connection string key "Bogus"/.test(err.message) && !err.message.includes('topsecret'));
  });
});
