import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BridgeConfigError } from '../../../src/bridge/config/config-error.js';
import { mergeLayers } from '../../../src/bridge/config/merge-layers.js';
import type { BridgeConfig } from '../../../src/bridge/config/model.js';
import { readOptionOverrides } from '../../../src/bridge/config/option-overrides.js';

const isLocal = (ip: string) => ip.startsWith('127.') || ip === '::1';
const load = (...options: string[]): BridgeConfig => mergeLayers([readOptionOverrides(options, isLocal)]);

function rejects(options: string[], pattern: RegExp): void {
  assert.throws(
    () => load(...options),
    (err: Error) => err instanceof BridgeConfigError && pattern.test(err.message) && !err.message.includes('\n'),
  );
}

describe('-o overrides', () => {
  it('sets scalar keys from text (ConfigTest: -o ConnectTimeout:44)', () => {
    const c = load('ConnectTimeout:44', 'GatewayPorts:yes', 'LogLevel:Debug', 'KeepAliveInterval: 10');
    assert.deepEqual([c.connectTimeout, c.gatewayPorts, c.logLevel, c.keepAliveInterval], [44, true, 'debug', 10]);
  });

  it("splits at the first ':' only, so values keep theirs (azbridge truncates them)", () => {
    const c = load('AzureRelayEndpoint:sb://x.servicebus.windows.net/', 'LogFileName:C:\\logs\\bridge.log');
    assert.equal(c.connection?.endpoint.host, 'x.servicebus.windows.net');
    assert.equal(c.logFileName, 'C:\\logs\\bridge.log');
  });

  it('takes a whole connection string, = signs and all', () => {
    const c = load('AzureRelayConnectionString:Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=k;SharedAccessKey=YWJjZA==');
    assert.equal(c.connection?.sharedAccessKey, 'YWJjZA==');
  });

  it('matches keys in any case and strips quotes around values', () => {
    const c = load('connecttimeout:"5"', "BindAddress:'127.0.0.1'");
    assert.deepEqual([c.connectTimeout, c.bindAddress], [5, '127.0.0.1']);
  });

  it('the last -o for a key wins', () => {
    assert.equal(load('ConnectTimeout:1', 'ConnectTimeout:2').connectTimeout, 2);
  });

  it('sets list keys with YAML flow syntax: a list or a single entry', () => {
    const c = load(
      'LocalForward:[{RelayName: db, BindPort: 16161}, {RelayName: dns, BindPort: -53}]',
      'RemoteForward:{RelayName: db, Bindings: [{PortName: sql1, Host: sql1.corp.example.com, HostPort: 16161}]}',
    );
    assert.deepEqual(
      c.localForward.map((f) => [f.relayName, f.bindings[0]!.kind, f.bindings[0]!.portName, f.source]),
      [
        ['db', 'tcp', '16161', '-o LocalForward (column 15)'],
        ['dns', 'udp', '53U', '-o LocalForward (column 49)'],
      ],
    );
    assert.deepEqual(c.remoteForward[0]!.bindings, [{ kind: 'tcp', portName: 'sql1', host: 'sql1.corp.example.com', port: 16161 }]);
  });

  it('rejects malformed overrides with a message naming the -o key', () => {
    rejects(['ConnectTimeout'], /^-o "ConnectTimeout": expected key:value/);
    rejects(['ConnectTimeout:'], /^-o ConnectTimeout: the value is empty/);
    rejects(['Fompa:1'], /^-o Fompa: unknown key "Fompa" in the configuration/);
    rejects(['ConectTimeout:1'], /did you mean "ConnectTimeout"\?/);
    rejects(['ConnectTimeout:121'], /^-o ConnectTimeout: ConnectTimeout 121 is out of range 0\.\.120$/);
    rejects(['ConnectionAttempts:x'], /^-o ConnectionAttempts: ConnectionAttempts must be a whole number, not "x"$/);
    rejects(['LocalForward:db:80'], /^-o LocalForward: LocalForward takes YAML flow syntax, e.g. -o 'LocalForward:\[/);
    rejects(['LocalForward:[{RelayName: db'], /^-o LocalForward \(column \d+\): YAML syntax error/);
    rejects(['LocalForward:[{RelayName: db, BindPort: 0}]'], /^-o LocalForward \(column 41\): BindPort: port 0 is out of range/);
    rejects(['LocalForward:[{RelayName: db, Port: 1}]'], /^-o LocalForward \(column 31\): unknown key "Port" in a LocalForward entry/);
  });

  it('never repeats a secret value', () => {
    assert.throws(
      () => load('AzureRelaySharedAccessKey:not*base64'),
      (err: Error) => /^-o AzureRelaySharedAccessKey: .*not valid base64$/.test(err.message) && !err.message.includes('not*base64'),
    );
  });
});
