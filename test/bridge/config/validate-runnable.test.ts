import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { effectiveBindAddress, isLocalAddress } from '../../../src/bridge/config/addresses.js';
import { forwardConnection } from '../../../src/bridge/config/credentials.js';
import { loadBridgeConfig, type BridgeConfigInput } from '../../../src/bridge/config/load-bridge-config.js';
import type { BridgeConfig } from '../../../src/bridge/config/model.js';
import { validateRunnable } from '../../../src/bridge/config/validate-runnable.js';

const CS = 'Endpoint=sb://a.servicebus.windows.net/;SharedAccessKeyName=k;SharedAccessKey=YWJjZA==;EntityPath=ignored';
const load = (input: Partial<BridgeConfigInput>): BridgeConfig =>
  loadBridgeConfig({ machineConfigPath: null, userConfigPath: null, env: {}, isLocalAddress: (ip) => ip.startsWith('127.'), ...input });

describe('validateRunnable', () => {
  it('needs at least one forwarder', () => {
    assert.deepEqual(validateRunnable(load({ connectionString: CS })), ['You must specify at least one -L, -T, -R or -H forwarder.']);
  });

  it('needs a connection string or endpoint unless every forwarder has its own', () => {
    const problems = validateRunnable(load({ localForward: ['80:db'], remoteForward: ['web:8080'] }));
    assert.equal(problems.length, 1);
    assert.match(problems[0]!, /^Connection string\(s\) undefined for db, web; set -x\/AzureRelayConnectionString, -e\/AzureRelayEndpoint, AZURE_BRIDGE_CONNECTIONSTRING or HYBRIDGE_CONNECTION_STRING\./);
    assert.deepEqual(validateRunnable(load({ localForward: ['80:db'], endpoint: 'sb://a.servicebus.windows.net/' })), []);
    assert.deepEqual(validateRunnable(load({ localForward: ['80:db'], env: { AZURE_BRIDGE_CONNECTIONSTRING: CS } })), []);
    assert.deepEqual(validateRunnable(load({ options: [`LocalForward:[{RelayName: db, BindPort: 80, ConnectionString: "${CS}"}]`] })), []);
  });

  it('reports two listeners on the same address and port', () => {
    const problems = validateRunnable(load({ connectionString: CS, localForward: ['127.0.0.1:80:a', '127.0.0.1:80:b', '80U:c', '80:d', '/tmp/s.sock:e', '/tmp/s.sock:f'] }));
    assert.deepEqual(problems, [
      'TCP 127.0.0.1:80 is bound twice (-L 127.0.0.1:80:a and -L 127.0.0.1:80:b).',
      'Socket /tmp/s.sock is bound twice (-L /tmp/s.sock:e and -L /tmp/s.sock:f).',
    ]);
  });
});

describe('forwardConnection', () => {
  it("uses the forwarder's own connection string, else the global one, with EntityPath = relay name", () => {
    const config = load({ connectionString: CS, options: ['LocalForward:[{RelayName: own, BindPort: 1, ConnectionString: "Endpoint=sb://b.servicebus.windows.net/"}]'], localForward: ['2:shared'] });
    const [own, shared] = config.localForward;
    assert.deepEqual(forwardConnection(config, own!), { endpoint: { secure: true, host: 'b.servicebus.windows.net', port: 443 }, entityPath: 'own' });
    assert.equal(forwardConnection(config, shared!)?.entityPath, 'shared');
    assert.equal(forwardConnection(config, shared!)?.sharedAccessKeyName, 'k');
    assert.equal(forwardConnection(load({}), { relayName: 'x' }), undefined);
  });
});

describe('bind addresses', () => {
  it('binds loopback by default, every interface with GatewayPorts, an explicit address as given', () => {
    assert.equal(effectiveBindAddress(undefined, false), 'localhost');
    assert.equal(effectiveBindAddress(undefined, true), undefined);
    assert.equal(effectiveBindAddress('127.0.0.5', true), '127.0.0.5');
  });

  it("knows this machine's loopback and wildcard addresses without resolving anything", () => {
    for (const ip of ['127.0.0.1', '127.1.2.3', '::1', '0.0.0.0', '::', '::ffff:127.0.0.1']) assert.equal(isLocalAddress(ip), true, ip);
    assert.equal(isLocalAddress('192.0.2.1'), false);
  });
});
