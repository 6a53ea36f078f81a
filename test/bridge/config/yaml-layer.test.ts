import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { BridgeConfig } from '../../../src/bridge/config/model.js';
import { expectConfigError, isLocal, loadYaml } from './config-kit.js';

const load = (text: string, local = isLocal): BridgeConfig => loadYaml(text, local);
const rejects = (text: string, pattern: RegExp, local = isLocal): string => expectConfigError(() => load(text, local), pattern);

describe('config file: ConfigTest.ConfigFileMaxTest (reference §5.1)', () => {
  const maxConfig = [
    'AddressFamily : inet',
    'AzureRelayConnectionString: Endpoint=sb://cvrelay.servicebus.windows.net/;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=abcdefgh',
    'BindAddress : 127.0.0.4',
    'ClearAllForwardings : false ',
    'ConnectionAttempts : 1 ',
    'ConnectTimeout : 60 ',
    'KeepAliveInterval : 60 ',
    'ExitOnForwardFailure : true ',
    'LocalForward : ',
    '  - BindAddress : 127.0.100.1',
    '    BindPort : 8008',
    '    RelayName : foo',
    '    HostName : foo.example.com',
    '  - BindAddress : 127.0.100.2',
    '    BindPort : 8008',
    '    RelayName : bar',
    '    HostName : bar.example.com',
    '  - BindAddress : 127.0.100.3',
    '    BindPort : 8008',
    '    RelayName : bam',
    '    HostName : bam.example.com',
    '    NoAuthentication: true',
    '  - BindLocalSocket : test',
    '    RelayName : baz',
    'RemoteForward : ',
    '  - RelayName : foo',
    '    HostPort : 123',
    '  - RelayName : bar',
    '    HostPort : 8008',
    '    Host : 10.1.1.1',
    '  - RelayName : baz',
    '    LocalSocket : foo',
    '',
  ].join('\r\n');

  it('reads every global key and forwarder', () => {
    const c = load(maxConfig);
    assert.equal(c.keepAliveInterval, 60);
    assert.equal(c.addressFamily, 'inet');
    assert.deepEqual(c.connection, {
      endpoint: { secure: true, host: 'cvrelay.servicebus.windows.net', port: 443 },
      sharedAccessKeyName: 'RootManageSharedAccessKey',
      sharedAccessKey: 'abcdefgh',
    });
    assert.equal(c.bindAddress, '127.0.0.4');
    assert.equal(c.connectionAttempts, 1);
    assert.equal(c.connectTimeout, 60);
    assert.equal(c.exitOnForwardFailure, true);

    assert.equal(c.localForward.length, 4);
    assert.deepEqual(
      c.localForward.slice(0, 3).map((f) => [f.relayName, f.bindings[0]]),
      [
        ['foo', { kind: 'tcp', port: 8008, portName: '8008', bindAddress: '127.0.100.1', hostName: 'foo.example.com', noAuthentication: false }],
        ['bar', { kind: 'tcp', port: 8008, portName: '8008', bindAddress: '127.0.100.2', hostName: 'bar.example.com', noAuthentication: false }],
        ['bam', { kind: 'tcp', port: 8008, portName: '8008', bindAddress: '127.0.100.3', hostName: 'bam.example.com', noAuthentication: true }],
      ],
    );
    assert.deepEqual(c.localForward[3]!.bindings, [{ kind: 'unix', path: 'test', portName: 'test', noAuthentication: false }]);
    assert.equal(c.localForward[3]!.relayName, 'baz');

    assert.deepEqual(
      c.remoteForward.map((f) => [f.relayName, f.bindings]),
      [
        ['foo', [{ kind: 'tcp', portName: '123', host: 'localhost', port: 123 }]],
        ['bar', [{ kind: 'tcp', portName: '8008', host: '10.1.1.1', port: 8008 }]],
        ['baz', [{ kind: 'unix', portName: 'foo', path: 'foo' }]],
      ],
    );
  });

  it('records where each entry was defined', () => {
    const c = load(maxConfig);
    assert.equal(c.localForward[0]!.source, 'test.yml:10:5');
    assert.equal(c.remoteForward[1]!.source, 'test.yml:28:5');
  });
});

describe('config file: CONFIG.md examples', () => {
  it('Example 1: three RDP forwarders and a SQL one, with HostName and `GatewayPorts : no`', () => {
    const c = load(`---
GatewayPorts : no
LocalForward:

  # RDP to remote machine abcxyz
  - BindAddress: 127.0.10.1
    HostName: abcxyz.intra-de.example.com
    BindPort: 3389
    RelayName: abcxyzrdp

# SQL to remote machine abcxyz
  - BindAddress: 127.0.10.1
    HostName: abcxyz.intra-de.example.com
    BindPort: 1433
    RelayName: abcxyzsql

  - BindAddress: 127.0.10.2
    HostName: defijk.intra-us.example.com
    BindPort: 3389
    RelayName: defijkrdp

  - BindAddress: 127.0.10.3
    HostName: ghiuvw.intra-jp.example.com
    BindPort: 3389
    RelayName: ghiuvwrdp
`);
    assert.equal(c.gatewayPorts, false);
    assert.deepEqual(
      c.localForward.map((f) => f.relayName),
      ['abcxyzrdp', 'abcxyzsql', 'defijkrdp', 'ghiuvwrdp'],
    );
    assert.deepEqual(c.localForward[1]!.bindings, [
      { kind: 'tcp', port: 1433, portName: '1433', bindAddress: '127.0.10.1', hostName: 'abcxyz.intra-de.example.com', noAuthentication: false },
    ]);
  });

  it('Examples 2 and 3: remote forwarders to this machine and to another host', () => {
    const two = load('---\nGatewayPorts : no\nRemoteForward:\n\n  # RDP to this machine abcxyz\n  - RelayName: abcxyzrdp\n    HostPort: 3389\n');
    assert.deepEqual(two.remoteForward[0]!.bindings, [{ kind: 'tcp', portName: '3389', host: 'localhost', port: 3389 }]);
    const three = load('---\nGatewayPorts : no\nRemoteForward:\n# RDP to remote machine defijk\n  - RelayName: defijkrdp\n    Host: defijk.intra-us.example.com\n    HostPort: 3389\n');
    assert.deepEqual(three.remoteForward[0]!.bindings, [{ kind: 'tcp', portName: '3389', host: 'defijk.intra-us.example.com', port: 3389 }]);
  });

  const example4 = '---\nGatewayPorts : true\nLocalForward:\n\n  # SQL to remote machine abcxyz\n  - BindAddress: 10.10.100.2\n    HostName: abcxyz.intra-de.example.com\n    BindPort: 1433\n    RelayName: abcxyzsql\n';

  it('Example 4: a forwarder on a local network address of this machine', () => {
    const c = load(example4, (ip) => ip === '10.10.100.2');
    assert.equal(c.gatewayPorts, true);
    assert.equal(c.localForward[0]!.bindings[0]!.kind === 'tcp' && c.localForward[0]!.bindings[0]!.bindAddress, '10.10.100.2');
  });

  it('Example 4 on a machine without that address: the error points at the value', () => {
    rejects(example4, /^test\.yml:6:18: BindAddress: 10\.10\.100\.2 is not an address of this machine$/);
  });

  it('single and multiple binding entries (LocalForward and RemoteForward properties)', () => {
    const c = load(`
LocalForward:
   - RelayName: myrelay
     BindAddress: 127.0.8.1
     BindPort: 8888
   - RelayName: myrelay
     Bindings:
      - BindAddress: 127.0.8.1
        BindPort: 5671
        PortName: amqps
      - BindAddress: 127.0.8.1
        BindPort: 5672
        PortName: amqp
RemoteForward:
   - RelayName: myrelay
     Host: localhost
     HostPort: 8888
   - RelayName: myrelay
     Bindings:
      - Host: broker.corp.example.com
        HostPort: 5671
        PortName: amqps
      - Host: broker.corp.example.com
        HostPort: 5672
        PortName: amqp
`);
    assert.deepEqual(c.localForward[0]!.bindings, [{ kind: 'tcp', port: 8888, portName: '8888', bindAddress: '127.0.8.1', noAuthentication: false }]);
    assert.deepEqual(
      c.localForward[1]!.bindings.map((b) => b.portName),
      ['amqps', 'amqp'],
    );
    assert.deepEqual(c.remoteForward[1]!.bindings, [
      { kind: 'tcp', portName: 'amqps', host: 'broker.corp.example.com', port: 5671 },
      { kind: 'tcp', portName: 'amqp', host: 'broker.corp.example.com', port: 5672 },
    ]);
  });
});

describe('config file: the seed SQL multiplex example and the examples/ folder', () => {
  it('client side: two local addresses on logical ports sql1 and sql2 of relay db', () => {
    const c = load(`
AzureRelayEndpoint: sb://mydemo.servicebus.windows.net/
LocalForward:
  - RelayName: db
    Bindings:
      - BindAddress: 127.0.0.8
        BindPort: 16161
        PortName: sql1
      - BindAddress: 127.0.0.9
        BindPort: 16161
        PortName: sql2
`);
    assert.equal(c.connection?.endpoint.host, 'mydemo.servicebus.windows.net');
    assert.deepEqual(c.localForward[0]!.bindings, [
      { kind: 'tcp', port: 16161, portName: 'sql1', bindAddress: '127.0.0.8', noAuthentication: false },
      { kind: 'tcp', port: 16161, portName: 'sql2', bindAddress: '127.0.0.9', noAuthentication: false },
    ]);
  });

  it('server side: the two logical ports lead to two database hosts', () => {
    const c = load(`
RemoteForward:
  - RelayName: db
    Bindings:
      - PortName: sql1
        Host: sql1.corp.example.com
        HostPort: 16161
      - PortName: sql2
        Host: sql2.corp.example.com
        HostPort: 16161
`);
    assert.deepEqual(c.remoteForward[0]!.bindings, [
      { kind: 'tcp', portName: 'sql1', host: 'sql1.corp.example.com', port: 16161 },
      { kind: 'tcp', portName: 'sql2', host: 'sql2.corp.example.com', port: 16161 },
    ]);
  });

  it('examples/rdp: per-forwarder connection strings and LogLevel INFO', () => {
    const cs = 'Endpoint=sb://mydemo.servicebus.windows.net/;SharedAccessKeyName=send;SharedAccessKey=c2VjcmV0';
    const client = load(`LocalForward :\n   - BindAddress: 127.1.0.2\n     BindPort: 13389\n     PortName: rdp\n     RelayName: pc1\n     ConnectionString: ${cs}\n\nLogLevel: INFO`);
    assert.equal(client.logLevel, 'info');
    assert.equal(client.localForward[0]!.connectionString, cs);
    assert.equal(client.connection, undefined);
    const server = load(`RemoteForward :\n   - RelayName: pc1\n     Host: localhost\n     PortName: rdp\n     HostPort: 3389\n     ConnectionString: "${cs}"\n\nLogLevel: INFO`);
    assert.deepEqual(server.remoteForward[0]!.bindings, [{ kind: 'tcp', portName: 'rdp', host: 'localhost', port: 3389 }]);
  });

  it('the machine template: empty values mean "not set", a UTF-8 BOM is fine', () => {
    const template = '\uFEFF# Azure Relay Bridge Configuration\n\n' +
      ['AddressFamily', 'AzureRelayConnectionString', 'AzureRelayEndpoint', 'AzureRelaySharedAccessKeyName', 'AzureRelaySharedAccessKey', 'AzureRelaySharedAccessSignature', 'BindAddress', 'ClearAllForwardings', 'ConnectionAttempts', 'ConnectTimeout', 'ExitOnForwardFailure', 'GatewayPorts']
        .map((k) => `# comment\n\n${k} :\n`)
        .join('\n') +
      '\nLocalForward :\n#   - BindAddress: 127.0.8.1\n#     BindPort: 443\n#     RelayName: a1\n\nLogLevel : ERROR\n\nLogFileName : \n\nRemoteForward :\n#   - RelayName: a1\n';
    const c = load(template);
    assert.equal(c.logLevel, 'error');
    assert.equal(c.connection, undefined);
    assert.deepEqual([c.localForward, c.remoteForward], [[], []]);
    assert.equal(c.exitOnForwardFailure, true);
  });

  it('JSON is YAML', () => {
    const c = load('{"LocalForward": [{"RelayName": "db", "BindPort": 16161}], "RemoteForward": [{"RelayName": "db", "HostPort": -16161}], "GatewayPorts": true}');
    assert.equal(c.gatewayPorts, true);
    assert.deepEqual(c.localForward[0]!.bindings, [{ kind: 'tcp', port: 16161, portName: '16161', noAuthentication: false }]);
    assert.deepEqual(c.remoteForward[0]!.bindings, [{ kind: 'udp', portName: '16161U', host: 'localhost', port: 16161 }]);
  });
});

describe('config file: values', () => {
  it("UDP as azbridge's negative ports, or written with U", () => {
    const c = load('LocalForward:\n  - {RelayName: a, BindPort: -5000}\n  - {RelayName: b, BindPort: 5000U}\nRemoteForward:\n  - {RelayName: a, HostPort: -3000}\n  - {RelayName: b, HostPort: "3000U", PortName: x}\n');
    assert.deepEqual(c.localForward.map((f) => f.bindings[0]), [
      { kind: 'udp', port: 5000, portName: '5000U', noAuthentication: false },
      { kind: 'udp', port: 5000, portName: '5000U', noAuthentication: false },
    ]);
    assert.deepEqual(c.remoteForward.map((f) => f.bindings[0]), [
      { kind: 'udp', portName: '3000U', host: 'localhost', port: 3000 },
      { kind: 'udp', portName: 'x', host: 'localhost', port: 3000 },
    ]);
  });

  it('keys match in any case', () => {
    const c = load('localforward:\n  - relayname: a\n    BINDPORT: 80\nconnecttimeout: 5\n');
    assert.equal(c.localForward[0]!.relayName, 'a');
    assert.equal(c.connectTimeout, 5);
  });

  it('a single mapping where a list is expected counts as a list of one', () => {
    assert.equal(load('LocalForward:\n  RelayName: a\n  BindPort: 80\n').localForward.length, 1);
  });

  it('entry-level NoAuthentication and Insecure are defaults that bindings may override', () => {
    const c = load(`
LocalForward:
  - RelayName: a
    NoAuthentication: true
    Bindings:
      - {BindPort: 1}
      - {BindPort: 2, NoAuthentication: false}
RemoteForward:
  - RelayName: web
    Insecure: true
    Bindings:
      - {Http: true, PortName: https, Host: a.local}
      - {Http: true, PortName: https, Host: b.local, HostPort: 8443, Insecure: false, Path: api}
  - RelayName: single
    Http: true
    PortName: http
    Insecure: true
`);
    assert.deepEqual(c.localForward[0]!.bindings.map((b) => b.noAuthentication), [true, false]);
    assert.deepEqual(c.remoteForward[0]!.bindings, [
      { kind: 'http', portName: 'https', scheme: 'https', host: 'a.local', port: 443, path: '/', insecure: true },
      { kind: 'http', portName: 'https', scheme: 'https', host: 'b.local', port: 8443, path: '/api/', insecure: false },
    ]);
    assert.deepEqual(c.remoteForward[1]!.bindings, [{ kind: 'http', portName: 'http', scheme: 'http', host: 'localhost', port: 80, path: '/', insecure: true }]);
  });

  it("accepts CONFIG.md's RemoteHostName as HostName (azbridge issue #115)", () => {
    const c = load('LocalForward:\n  - {RelayName: a, BindPort: 80, RemoteHostName: db.example.com}\n');
    assert.equal(c.localForward[0]!.bindings[0]!.hostName, 'db.example.com');
  });

  it('keeps remote bindings that share a port name, in order', () => {
    const c = load('RemoteForward:\n  - RelayName: r\n    Bindings:\n      - {PortName: app, Host: 10.0.0.1, HostPort: 80}\n      - {PortName: app, Host: 10.0.0.2, HostPort: 80}\n');
    assert.deepEqual(c.remoteForward[0]!.bindings.map((b) => b.kind !== 'unix' && b.kind !== 'http' && b.host), ['10.0.0.1', '10.0.0.2']);
  });

  it('reads Prewarm globally and per LocalForward entry; the entry wins', () => {
    const c = load('Prewarm: 2\nLocalForward:\n  - {RelayName: a, BindPort: 1}\n  - {RelayName: b, BindPort: 2, Prewarm: 5}\n  - {RelayName: c, BindPort: 3, Prewarm: 0}\n');
    assert.equal(c.prewarm, 2);
    assert.deepEqual(c.localForward.map((f) => f.prewarm), [2, 5, 0]);
  });

  it('reads booleans written yes/no/on/off and log levels in any case', () => {
    const c = load('GatewayPorts: yes\nExitOnForwardFailure: off\nLogLevel: debug2\nAddressFamily: INET6\n');
    assert.deepEqual([c.gatewayPorts, c.exitOnForwardFailure, c.logLevel, c.addressFamily], [true, false, 'debug2', 'inet6']);
  });

  it('defaults: AddressFamily any, KeepAliveInterval 30, ConnectionAttempts unset (the senders\' wait policy), ExitOnForwardFailure true, LogLevel info', () => {
    const c = load('');
    assert.deepEqual(
      [c.addressFamily, c.keepAliveInterval, c.connectionAttempts, c.exitOnForwardFailure, c.logLevel, c.gatewayPorts, c.prewarm, c.connectTimeout],
      ['any', 30, undefined, true, 'info', false, 0, undefined],
    );
  });
});
