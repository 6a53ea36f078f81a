import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EndpointError, type RelayEndpoint } from '../../src/protocol/relay-endpoint.js';
import { parseRelayArgument } from '../../src/tunnel/relay-argument.js';

const tls = (host: string, port = 443): RelayEndpoint => ({ secure: true, host, port });
const plain = (host: string, port: number): RelayEndpoint => ({ secure: false, host, port });

describe('parseRelayArgument: accepted forms', () => {
  const cases: [string, RelayEndpoint, string?][] = [
    // bare namespace name + suffix
    ['my-ns', tls('my-ns.servicebus.windows.net')],
    ['  My-NS  ', tls('my-ns.servicebus.windows.net')],
    ['ns1', tls('ns1.servicebus.windows.net')],
    ['my-ns', tls('my-ns.servicebus.chinacloudapi.cn'), '.servicebus.chinacloudapi.cn'],
    ['my-ns', tls('my-ns.servicebus.usgovcloudapi.net'), 'servicebus.usgovcloudapi.net'],
    ['my-ns', tls('my-ns.servicebus.windows.net'), ''],
    // a dot: used as-is
    ['my-ns.servicebus.windows.net', tls('my-ns.servicebus.windows.net')],
    ['My-NS.ServiceBus.Windows.Net.', tls('my-ns.servicebus.windows.net')],
    ['relay.example.com', tls('relay.example.com'), '.ignored.example'],
    ['127.0.0.1', tls('127.0.0.1')],
    // TLS URIs
    ['sb://my-ns.servicebus.windows.net/', tls('my-ns.servicebus.windows.net')],
    ['sb://my-ns.servicebus.windows.net', tls('my-ns.servicebus.windows.net')],
    ['SB://MY-NS.servicebus.windows.net/', tls('my-ns.servicebus.windows.net')],
    ['https://my-ns.servicebus.windows.net/', tls('my-ns.servicebus.windows.net')],
    ['wss://my-ns.servicebus.windows.net:443', tls('my-ns.servicebus.windows.net')],
    ['https://my-ns.servicebus.windows.net:443/', tls('my-ns.servicebus.windows.net')],
    ['wss://relay.example.com:8443', tls('relay.example.com', 8443)],
    ['wss://localhost:8443/', tls('localhost', 8443)],
    ['wss://mock:8443', tls('mock', 8443)],
    ['wss://[::1]:8443', tls('::1', 8443)],
    ['wss://[::1]', tls('::1')],
    ['wss://127.0.0.1:9443', tls('127.0.0.1', 9443)],
    // a URI host without dot or port gets the suffix, as aztunnel does
    ['sb://my-ns', tls('my-ns.servicebus.windows.net')],
    ['wss://my-ns/', tls('my-ns.servicebus.windows.net')],
    ['sb://my-ns', tls('my-ns.example.cloud'), 'example.cloud'],
    ['wss://localhost', tls('localhost')],
    // hybridge extension: plain relays
    ['ws://127.0.0.1:9350', plain('127.0.0.1', 9350)],
    ['http://127.0.0.1:9350/', plain('127.0.0.1', 9350)],
    ['ws://localhost:9350', plain('localhost', 9350)],
    ['ws://relay', plain('relay', 80)],
    ['ws://[::1]:9350', plain('::1', 9350)],
    ['HTTP://Relay.Local:80', plain('relay.local', 80)],
  ];
  for (const [input, expected, suffix] of cases) {
    it(`${JSON.stringify(input)}${suffix !== undefined ? ` with suffix ${JSON.stringify(suffix)}` : ''}`, () => {
      assert.deepEqual(suffix === undefined ? parseRelayArgument(input) : parseRelayArgument(input, suffix), expected);
    });
  }
});

describe('parseRelayArgument: rejected forms', () => {
  const cases: [string, RegExp][] = [
    ['', /it is empty; give a namespace name/],
    ['   ', /it is empty/],
    ['relay.example.com:8443', /a bare host:port is ambiguous; write wss:\/\/relay\.example\.com:8443 for a TLS relay or ws:\/\/relay\.example\.com:8443 for a plain one/],
    ['localhost:9350', /bare host:port/],
    ['::1', /bare host:port/],
    ['my_ns!', /a namespace name has only letters, digits and inner hyphens/],
    ['-ns', /a namespace name/],
    ['ns-', /a namespace name/],
    ['bad host.example', /"bad host.example" is not a valid host name/],
    ['ftp://relay.example.com', /unsupported scheme "ftp:\/\/"; use sb:\/\/, wss:\/\/ or https:\/\/ \(TLS\), or ws:\/\/ or http:\/\/ \(plain\)/],
    ['amqps://relay.example.com', /unsupported scheme "amqps:\/\/"/],
    ['wss://user:pw@relay.example.com', /must not contain user information/],
    ['wss://user@relay.example.com/', /must not contain user information/],
    ['wss://relay.example.com/?sb-hc-action=listen', /must not have a query/],
    ['wss://relay.example.com?x=1', /must not have a query/],
    ['wss://relay.example.com/#frag', /must not have a fragment/],
    ['wss://relay.example.com/$hc/my-hyco', /must not have a path \(found "\/\$hc\/my-hyco"\)/],
    ['wss://relay.example.com//', /must not have a path/],
    ['wss://relay.example.com:', /the port after ":" is empty/],
    ['wss://[::1]:', /the port after ":" is empty/],
    ['wss://relay.example.com:0', /port "0" is not a number from 1 to 65535/],
    ['wss://relay.example.com:65536', /port "65536" is not a number from 1 to 65535/],
    ['wss://relay.example.com:https', /port "https" is not a number/],
    ['wss://relay.example.com:-1', /port "-1" is not a number/],
    ['wss://', /the URI has no host/],
    ['wss:///', /the URI has no host/],
    ['wss://:8443', /the host is empty/],
    ['wss://::1:8443', /IPv6 addresses must be bracketed/],
    ['wss://[::1', /missing "\]"/],
    ['wss://[relay.example.com]:443', /is not an IPv6 address/],
    ['wss://[fe80::1%25eth0]:443', /is not an IPv6 address/],
    ['wss://[::1]x', /unexpected "x" after the IPv6 address/],
    ['wss://bad_host!:443', /not a valid host name/],
  ];
  for (const [input, message] of cases) {
    it(`rejects ${JSON.stringify(input)}`, () => {
      assert.throws(
        () => parseRelayArgument(input),
        (err: unknown) => err instanceof EndpointError && err.message.startsWith(`invalid relay ${JSON.stringify(input)}: `) && message.test(err.message),
      );
    });
  }
});
