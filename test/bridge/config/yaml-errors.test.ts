import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { BridgeConfig } from '../../../src/bridge/config/model.js';
import { expectConfigError, isLocal, loadYaml } from './config-kit.js';

const load = (text: string, local = isLocal): BridgeConfig => loadYaml(text, local);
const rejects = (text: string, pattern: RegExp, local = isLocal): string => expectConfigError(() => load(text, local), pattern);

describe('config file: errors name the key with its line and column', () => {
  it('an unknown top-level key (ConfigTest.ConfigBadOptionTest)', () => {
    rejects('Fompa : ssjsjshshjs\n', /^test\.yml:1:1: unknown key "Fompa" in the configuration; known keys: AddressFamily, /);
  });

  it('an unknown key inside an entry, with a suggestion', () => {
    rejects('LocalForward:\n  - RelayName: a\n    BindPrt: 3\n', /^test\.yml:3:5: unknown key "BindPrt" in a LocalForward entry; did you mean "BindPort"\?$/);
    rejects('RemoteForward:\n  - RelayName: a\n    Bindings:\n      - {HostPort: 1, Hots: x}\n', /^test\.yml:4:23: unknown key "Hots" in a RemoteForward binding; did you mean "Host"\?/);
  });

  it('Insecure on a RemoteForward entry is known (CONFIG.md puts it there)', () => {
    assert.equal(load('RemoteForward:\n  - {RelayName: a, HostPort: 1, Insecure: true}\n').remoteForward.length, 1);
  });

  it('a key given twice, in any case', () => {
    rejects('LogLevel: info\nloglevel: error\n', /^test\.yml:2:1: key "loglevel" appears twice/);
  });

  it('type errors', () => {
    rejects('LocalForward:\n  - RelayName: a\n    BindPort: abc\n', /^test\.yml:3:15: BindPort must be a whole number, not "abc"$/);
    rejects('GatewayPorts: maybe\n', /^test\.yml:1:15: GatewayPorts must be true or false, not "maybe"$/);
    rejects('LogLevel: [a, b]\n', /^test\.yml:1:11: LogLevel must be a single value, not a list$/);
    rejects('LocalForward: 5\n', /^test\.yml:1:15: LocalForward must be a list of entries$/);
    rejects('- a\n- b\n', /^test\.yml:1:1: the configuration must be a mapping/);
  });

  it('ConnectTimeout and ConnectionAttempts garbage and out of range (ConfigTest)', () => {
    rejects('ConnectionAttempts : ssjs^^^hjs\n', /^test\.yml:1:22: ConnectionAttempts must be a whole number/);
    rejects('ConnectionAttempts : -1\n', /ConnectionAttempts -1 is out of range 1\.\.10/);
    rejects('ConnectionAttempts : 11\n', /ConnectionAttempts 11 is out of range 1\.\.10/);
    rejects('ConnectTimeout : ssjs^^^hjs\n', /ConnectTimeout must be a whole number/);
    rejects('ConnectTimeout : -1\n', /ConnectTimeout -1 is out of range 0\.\.120/);
    rejects('ConnectTimeout : 121\n', /ConnectTimeout 121 is out of range 0\.\.120/);
  });

  it('bad BindAddress, AddressFamily, LogLevel, ports and names', () => {
    rejects('BindAddress : ssjs^^^hjs\n', /^test\.yml:1:15: BindAddress: "ssjs\^\^\^hjs" must be an IP address of this machine or localhost$/);
    rejects('BindAddress : 1.1.1.1\n', /BindAddress: 1\.1\.1\.1 is not an address of this machine/);
    rejects('AddressFamily: ipx\n', /AddressFamily "ipx" is not one of any, inet, inet6/);
    rejects('LogLevel: loud\n', /LogLevel "loud" is not one of NONE, QUIET, FATAL, ERROR, INFO, VERBOSE, DEBUG, DEBUG1, DEBUG2, DEBUG3/);
    rejects('LocalForward:\n  - {RelayName: a, BindPort: 70000}\n', /^test\.yml:2:30: BindPort: port 70000 is out of range/);
    rejects('LocalForward:\n  - {RelayName: a, BindPort: 0}\n', /BindPort: port 0 is out of range/);
    rejects('RemoteForward:\n  - {RelayName: a^b, HostPort: 1}\n', /^test\.yml:2:17: RelayName: relay name "a\^b"/);
    rejects('RemoteForward:\n  - {RelayName: a, HostPort: 1, Host: "foo^^^bar"}\n', /Host: "foo\^\^\^bar" is not a valid host name/);
    rejects('LocalForward:\n  - {RelayName: a, BindPort: 1, HostName: 10.0.0.1}\n', /HostName: "10\.0\.0\.1" is not a valid DNS host name/);
  });

  it('structural errors in entries', () => {
    rejects('LocalForward:\n  - BindPort: 1\n', /^test\.yml:2:5: a LocalForward entry needs RelayName$/);
    rejects('LocalForward:\n  - RelayName: a\n', /^test\.yml:2:5: a binding needs BindPort or BindLocalSocket$/);
    rejects('LocalForward:\n  - {RelayName: a, BindPort: 1, BindLocalSocket: s}\n', /give either BindPort or BindLocalSocket, not both/);
    rejects('RemoteForward:\n  - {RelayName: a, HostPort: 1, LocalSocket: s}\n', /give either HostPort or LocalSocket, not both/);
    rejects('LocalForward:\n  - RelayName: a\n    BindPort: 1\n    Bindings:\n      - {BindPort: 2}\n', /^test\.yml:3:5: BindPort is a binding key; with Bindings, put it in the list items$/);
    rejects('LocalForward:\n  - RelayName: a\n    Bindings: []\n', /^test\.yml:3:15: Bindings is empty$/);
    rejects('RemoteForward:\n  - {RelayName: a, Http: true, HostPort: 80}\n', /an Http binding needs PortName http or https/);
    rejects('RemoteForward:\n  - {RelayName: a, Http: true, PortName: ftp}\n', /an Http binding needs PortName http or https/);
    rejects('RemoteForward:\n  - {RelayName: a, Http: true, PortName: http, LocalSocket: s}\n', /not LocalSocket/);
    rejects('RemoteForward:\n  - {RelayName: a, HostPort: 80, Path: /x}\n', /Path applies only to bindings with Http: true/);
    rejects('LocalForward:\n  - {RelayName: a, BindPort: 1, HostName: a.com, RemoteHostName: b.com}\n', /RemoteHostName is another name for HostName/);
    rejects('LocalForward:\n  - {RelayName: a, BindPort: 1, Prewarm: -1}\n', /Prewarm -1 is out of range 0\.\.1000/);
    rejects('LocalForward:\n  - {RelayName: a, BindLocalSocket: "/run/my sock"}\n', /no usable default port name; give one explicitly/);
  });

  it('YAML syntax errors with their position', () => {
    rejects('LocalForward:\n  - RelayName: [a\n', /^test\.yml:\d+:\d+: YAML syntax error: /);
    rejects('a: 1\n a: 2\n  b\n', /^test\.yml:\d+:\d+: YAML syntax error: /);
  });

  it('never repeats a secret value', () => {
    const secret = 'c2VjcmV0c2VjcmV0^^';
    const a = rejects(`AzureRelaySharedAccessKey: ${secret}\n`, /^test\.yml:1:28: AzureRelaySharedAccessKey: the shared access key is not valid base64$/);
    assert.ok(!a.includes(secret));
    const b = rejects('AzureRelayConnectionString: Endpoint=sb://x.servicebus.windows.net/;SharedAccessKeyName=k;SharedAccessKey=topsecret;Bogus=1\n', /invalid connection string: unknown connection string key "Bogus"/);
    assert.ok(!b.includes('topsecret'));
    const c = rejects('LocalForward:\n  - {RelayName: a, BindPort: 1, ConnectionString: "SharedAccessKeyName=k;SharedAccessKey=topsecret"}\n', /ConnectionString: invalid connection string: connection string has no Endpoint/);
    assert.ok(!c.includes('topsecret'));
  });
});
