import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { defaultMachineConfigPath, defaultUserConfigPath, loadBridgeConfig, type BridgeConfigInput } from '../../../src/bridge/config/load-bridge-config.js';
import type { BridgeConfig } from '../../../src/bridge/config/model.js';
import { expectConfigError, isLocal } from './config-kit.js';

const dir = mkdtempSync(join(tmpdir(), 'hybridge-config-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let fileCount = 0;
function file(text: string): string {
  const path = join(dir, `config-${++fileCount}.yml`);
  writeFileSync(path, text);
  return path;
}

const KEY = 'e29y7Y09bQpdcc/0KfO4WYUOJIMvs6I8cNM8EZpAdHQ=';
const CS_A = `Endpoint=sb://a.servicebus.windows.net/;SharedAccessKeyName=ruleA;SharedAccessKey=${KEY}`;
const CS_B = `Endpoint=sb://b.servicebus.windows.net/;SharedAccessKeyName=ruleB;SharedAccessKey=${KEY}`;

/** Loads with no machine or user file and an empty environment unless the test says otherwise. */
function load(input: Partial<BridgeConfigInput>): BridgeConfig {
  return loadBridgeConfig({ machineConfigPath: null, userConfigPath: null, env: {}, isLocalAddress: isLocal, ...input });
}

const rejects = (input: Partial<BridgeConfigInput>, pattern: RegExp): string => expectConfigError(() => load(input), pattern);

describe('loadBridgeConfig: ConfigTest.CommandLineMaxTest', () => {
  it('applies every flag and keeps the 3 local and 14 remote forwarders in order', () => {
    const c = load({
      bindAddress: '127.0.0.4',
      endpoint: 'sb://cvrelay.servicebus.windows.net/',
      configFile: file(''),
      gatewayPorts: true,
      keyName: 'send',
      key: 'abcdefgh',
      localForward: ['127.0.100.1:8008:foo', '127.0.100.2:8008:bar', './name:baz'],
      options: ['ConnectTimeout:44'],
      quiet: true,
      legacyRemoteForward: ['foo1:123', 'bar1:10.1.1.1:123', 'foo3:port/123', 'bar3:10.1.1.1:port/123', 'baz:./abc'],
      remoteForward: ['foo2:123', 'bar2:10.1.1.1:123', 'foo4:port/123', 'bar4:port/10.1.1.1:123'],
      httpForward: [
        'foo5:https/service.example.com',
        'bar5:http/service.example.com:81',
        'baz5:http/service.example.com',
        'abc/def:http/service.example.com/foo',
        'ghi/jkl:http/service1.example.com/foo;http/service2.example.com/foo',
      ],
      verbose: true,
      keepAlive: '60',
    });
    assert.equal(c.keepAliveInterval, 60);
    assert.deepEqual(c.connection, {
      endpoint: { secure: true, host: 'cvrelay.servicebus.windows.net', port: 443 },
      sharedAccessKeyName: 'send',
      sharedAccessKey: 'abcdefgh',
    });
    assert.equal(c.bindAddress, '127.0.0.4');
    assert.equal(c.connectTimeout, 44);
    assert.equal(c.gatewayPorts, true);
    assert.equal(c.logLevel, 'none');
    assert.deepEqual(c.localForward.map((f) => f.relayName), ['foo', 'bar', 'baz']);
    assert.deepEqual(c.localForward[2]!.bindings, [{ kind: 'unix', path: './name', portName: 'name', noAuthentication: false }]);
    assert.deepEqual(
      c.remoteForward.map((f) => f.relayName),
      ['foo1', 'bar1', 'foo3', 'bar3', 'baz', 'foo2', 'bar2', 'foo4', 'bar4', 'foo5', 'bar5', 'baz5', 'abc/def', 'ghi/jkl'],
    );
    const [foo5, bar5, baz5, abcdef, ghijkl] = c.remoteForward.slice(9).map((f) => f.bindings);
    assert.deepEqual(foo5, [{ kind: 'http', portName: 'https', scheme: 'https', host: 'service.example.com', port: 443, path: '/', insecure: false }]);
    assert.equal(bar5![0]!.kind === 'http' && bar5![0]!.port, 81);
    assert.equal(baz5![0]!.kind === 'http' && baz5![0]!.port, 80);
    assert.equal(abcdef![0]!.kind === 'http' && abcdef![0]!.path, '/foo/');
    assert.deepEqual(ghijkl!.map((b) => b.kind === 'http' && [b.host, b.port, b.portName, b.path]), [
      ['service1.example.com', 80, 'http', '/foo/'],
      ['service2.example.com', 80, 'http', '/foo/'],
    ]);
  });
});

describe('loadBridgeConfig: layers and precedence', () => {
  const machine = file('ConnectTimeout: 10\nConnectionAttempts: 2\nLogLevel: ERROR\nLocalForward:\n  - {RelayName: m, BindPort: 1001}\nRemoteForward:\n  - {RelayName: m, HostPort: 2001}\n');
  const user = file('ConnectTimeout: 20\nLocalForward:\n  - {RelayName: u, BindPort: 1002}\n');

  it('machine, then user, then -o, then flags: scalars override, lists concatenate in that order', () => {
    const c = load({
      machineConfigPath: machine,
      userConfigPath: user,
      options: ['ConnectTimeout:30', 'LocalForward:[{RelayName: o, BindPort: 1003}]'],
      localForward: ['1004:cli'],
      remoteForward: ['cliT:2003'],
      legacyRemoteForward: ['cliR:2002'],
      httpForward: ['cliH:http/localhost'],
    });
    assert.equal(c.connectTimeout, 30);
    assert.equal(c.connectionAttempts, 2);
    assert.equal(c.logLevel, 'error');
    assert.deepEqual(c.localForward.map((f) => f.relayName), ['m', 'u', 'o', 'cli']);
    assert.deepEqual(c.remoteForward.map((f) => f.relayName), ['m', 'cliR', 'cliT', 'cliH']);
  });

  it('-v and -q override the file LogLevel; -q wins over -v', () => {
    assert.equal(load({ machineConfigPath: machine, verbose: true }).logLevel, 'verbose');
    assert.equal(load({ machineConfigPath: machine, verbose: true, quiet: true }).logLevel, 'none');
  });

  it('-f replaces the user file; the machine file is still read first', () => {
    const f = file('LocalForward:\n  - {RelayName: f, BindPort: 1005}\n');
    const c = load({ machineConfigPath: machine, userConfigPath: user, configFile: f });
    assert.deepEqual(c.localForward.map((x) => x.relayName), ['m', 'f']);
    assert.equal(c.connectTimeout, 10);
  });

  it('a missing -f file is an error; missing machine and user files are skipped', () => {
    const missing = join(dir, 'nope.yml');
    rejects({ configFile: missing }, new RegExp(`^The config file was not found: ${missing.replace(/[.\\]/g, '\\$&')}$`));
    const c = load({ machineConfigPath: missing, userConfigPath: join(dir, 'no', 'such', 'file.yml'), localForward: ['80:x'] });
    assert.deepEqual(c.localForward.map((f) => f.relayName), ['x']);
  });

  it('finds the user file under HOME when no path is given', () => {
    const home = join(dir, 'home');
    mkdirSync(join(home, '.azbridge'), { recursive: true });
    writeFileSync(join(home, '.azbridge', 'azbridge_config.yml'), 'Prewarm: 3\n');
    const c = loadBridgeConfig({ machineConfigPath: null, env: { HOME: home }, platform: 'linux' });
    assert.equal(c.prewarm, 3);
  });

  it('reports file errors with the file path, line and column', () => {
    const bad = file('LocalForward:\n  - RelayName: a\n    Fompa: 1\n');
    rejects({ configFile: bad }, new RegExp(`^${bad.replace(/[.\\]/g, '\\$&')}:3:5: unknown key "Fompa"`));
  });
});

describe('loadBridgeConfig: ClearAllForwardings', () => {
  const machine = file('LocalForward:\n  - {RelayName: m, BindPort: 1001}\nRemoteForward:\n  - {RelayName: m, HostPort: 2001}\n');

  it('in the user file: drops the machine lists, keeps its own', () => {
    const user = file('ClearAllForwardings: true\nLocalForward:\n  - {RelayName: u, BindPort: 1002}\n');
    const c = load({ machineConfigPath: machine, userConfigPath: user });
    assert.deepEqual([c.localForward.map((f) => f.relayName), c.remoteForward.length], [['u'], 0]);
  });

  it('in -o: drops the files\' lists; command-line forwarders are added after and survive', () => {
    const c = load({ machineConfigPath: machine, options: ['ClearAllForwardings:true'], localForward: ['1003:cli'], remoteForward: ['cli:2003'] });
    assert.deepEqual([c.localForward.map((f) => f.relayName), c.remoteForward.map((f) => f.relayName)], [['cli'], ['cli']]);
  });

  it('false clears nothing', () => {
    const user = file('ClearAllForwardings: false\n');
    assert.equal(load({ machineConfigPath: machine, userConfigPath: user }).localForward.length, 1);
  });
});

describe('loadBridgeConfig: the relay connection', () => {
  it('AZURE_BRIDGE_CONNECTIONSTRING supplies the connection string when nothing else does', () => {
    assert.equal(load({ env: { AZURE_BRIDGE_CONNECTIONSTRING: CS_A } }).connection?.endpoint.host, 'a.servicebus.windows.net');
    assert.equal(load({ env: { AZURE_BRIDGE_CONNECTIONSTRING: CS_A }, connectionString: CS_B }).connection?.sharedAccessKeyName, 'ruleB');
    const f = file(`AzureRelayConnectionString: ${CS_B}\n`);
    assert.equal(load({ env: { AZURE_BRIDGE_CONNECTIONSTRING: CS_A }, configFile: f }).connection?.endpoint.host, 'b.servicebus.windows.net');
  });

  it('a bad AZURE_BRIDGE_CONNECTIONSTRING is reported by name, without its value', () => {
    const message = rejects({ env: { AZURE_BRIDGE_CONNECTIONSTRING: 'Endpoint=sb://x.servicebus.windows.net/;SharedAccessKey=hush' } }, /^environment variable AZURE_BRIDGE_CONNECTIONSTRING: invalid connection string/);
    assert.ok(!message.includes('hush'));
  });

  it('-e, -K and -k override the parts of -x (azbridge lets -x silently win)', () => {
    const c = load({ connectionString: CS_A, endpoint: 'sb://b.servicebus.windows.net/', keyName: 'other', key: 'YWJjZA==' });
    assert.deepEqual(c.connection, {
      endpoint: { secure: true, host: 'b.servicebus.windows.net', port: 443 },
      sharedAccessKeyName: 'other',
      sharedAccessKey: 'YWJjZA==',
    });
  });

  it('-s replaces the key of -x, and a later key replaces an earlier signature', () => {
    const c = load({ connectionString: CS_A, signature: 'SharedAccessSignature sr=x&sig=y&se=1&skn=r' });
    assert.deepEqual([c.connection?.sharedAccessSignature, c.connection?.sharedAccessKeyName, c.connection?.sharedAccessKey], ['SharedAccessSignature sr=x&sig=y&se=1&skn=r', undefined, undefined]);
    const f = file('AzureRelayEndpoint: sb://a.servicebus.windows.net/\nAzureRelaySharedAccessSignature: SharedAccessSignature sr=x&sig=y&se=1&skn=r\n');
    const d = load({ configFile: f, keyName: 'k', key: KEY });
    assert.deepEqual([d.connection?.sharedAccessSignature, d.connection?.sharedAccessKeyName], [undefined, 'k']);
  });

  it('in a file, the connection string is applied before the separate keys, whatever their order', () => {
    const f = file(`AzureRelaySharedAccessKeyName: later\nAzureRelayConnectionString: ${CS_A}\n`);
    assert.equal(load({ configFile: f }).connection?.sharedAccessKeyName, 'later');
  });

  it('-e alone gives an endpoint without keys (Entra ID)', () => {
    assert.deepEqual(load({ endpoint: 'sb://a.servicebus.windows.net/' }).connection, { endpoint: { secure: true, host: 'a.servicebus.windows.net', port: 443 } });
    assert.equal(load({}).connection, undefined);
  });

  it('rejects a key name without a key, and a signature together with keys', () => {
    rejects({ endpoint: 'sb://a.servicebus.windows.net/', keyName: 'k' }, /^-K: a shared access key name .* needs a key/);
    rejects({ endpoint: 'sb://a.servicebus.windows.net/', key: KEY }, /^-k: a shared access key .* needs a key name/);
    rejects({ endpoint: 'sb://a.servicebus.windows.net/', keyName: 'k', key: KEY, signature: 'SharedAccessSignature sr=x&sig=y&se=1&skn=r' }, /^-s: give either a shared access signature \(-s\) or a key name and key/);
  });
});

describe('loadBridgeConfig: bad and good flag values (ConfigTest)', () => {
  it('-x garbage', () => {
    rejects({ connectionString: 'Endpoint=total^^^garbage' }, /^-x: invalid connection string/);
  });
  it('-b garbage, a remote address and a host name', () => {
    rejects({ bindAddress: 'abc^^$foo' }, /^-b "abc\^\^\$foo": .*must be an IP address of this machine or localhost$/);
    rejects({ bindAddress: '1.1.1.1' }, /^-b "1\.1\.1\.1": 1\.1\.1\.1 is not an address of this machine$/);
    rejects({ bindAddress: 'bing.com' }, /^-b "bing\.com": "bing\.com" must be an IP address of this machine or localhost$/);
  });
  it('-b localhost, a quoted IPv4 address, a bracketed IPv6 address, a wildcard', () => {
    assert.equal(load({ bindAddress: 'localhost' }).bindAddress, 'localhost');
    assert.equal(load({ bindAddress: '"127.0.1.0"' }).bindAddress, '127.0.1.0');
    assert.equal(load({ bindAddress: '"[::1]"' }).bindAddress, '::1');
    assert.equal(load({ bindAddress: 'any' }).bindAddress, '0.0.0.0');
  });
  it('-e garbage', () => {
    rejects({ endpoint: '"^^^^"' }, /^-e "\^\^\^\^": invalid relay endpoint/);
  });
  it('-K garbage and a quoted good name', () => {
    rejects({ keyName: '"^^^^"' }, /^-K: shared access key name "\^\^\^\^" may contain only letters, digits, '-' and '_'$/);
    assert.equal(load({ endpoint: 'sb://a.servicebus.windows.net/', keyName: '"sendlisten"', key: KEY }).connection?.sharedAccessKeyName, 'sendlisten');
  });
  it('-k garbage (not repeated) and a quoted good key', () => {
    const message = rejects({ key: '"^^^^"' }, /^-k: the shared access key is not valid base64$/);
    assert.ok(!message.includes('^^^^'));
    assert.equal(load({ endpoint: 'sb://a.servicebus.windows.net/', keyName: 'k', key: `"${KEY}"` }).connection?.sharedAccessKey, KEY);
  });
  it('-a and --prewarm must be whole numbers in range', () => {
    rejects({ keepAlive: 'x' }, /^-a "x": KeepAliveInterval must be a whole number$/);
    rejects({ keepAlive: -1 }, /^-a "-1": KeepAliveInterval -1 is out of range/);
    rejects({ prewarm: '1001' }, /^--prewarm "1001": Prewarm 1001 is out of range 0\.\.1000$/);
    assert.equal(load({ prewarm: '4', localForward: ['80:x'] }).localForward[0]!.prewarm, 4);
  });
  it('-l must not be empty', () => {
    rejects({ logFile: '' }, /^-l: the log file name is empty$/);
  });
  it('a bad forwarder names its flag', () => {
    rejects({ localForward: ['70000:foobar'] }, /^-L "70000:foobar": port 70000/);
    rejects({ legacyRemoteForward: ['foobar:70000'] }, /^-R "foobar:70000": port 70000/);
    rejects({ remoteForward: ['foobar:70000'] }, /^-T "foobar:70000": port 70000/);
    rejects({ httpForward: ['foobar:ftp/x'] }, /^-H "foobar:ftp\/x": /);
  });
});

describe('default file locations', () => {
  it("follows azbridge's paths", () => {
    assert.equal(defaultMachineConfigPath('linux', {}), '/etc/azbridge/azbridge_config.machine.yml');
    assert.equal(defaultUserConfigPath('linux', { HOME: '/home/u' }), '/home/u/.azbridge/azbridge_config.yml');
    assert.equal(defaultUserConfigPath('linux', {}), undefined);
    assert.match(defaultUserConfigPath('win32', { APPDATA: 'C:/Users/u/AppData/Roaming' }) ?? '', /azbridge.azbridge_config\.yml$/);
    assert.match(defaultMachineConfigPath('win32', { ProgramData: 'C:/ProgramData' }) ?? '', /azbridge.azbridge_config\.machine\.yml$/);
  });
});
