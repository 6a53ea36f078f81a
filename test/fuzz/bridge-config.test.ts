/**
 * Fuzz targets: the bridge's -L / -T / -R / -H grammars, YAML configuration files and -o overrides
 * (src/bridge/config/*), and the -H request path confinement (src/bridge/remote/http-target-path.ts).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { stringify } from 'yaml';
import {
  BridgeConfigError,
  mergeLayers,
  parseHttpForwardOption,
  parseLegacyRemoteForwardOption,
  parseLocalForwardOption,
  parseRemoteForwardOption,
  readConfigText,
  readOptionOverrides,
  validateRunnable,
} from '../../src/bridge/config/index.js';
import { targetPath } from '../../src/bridge/remote/http-target-path.js';
import { fc, fuzz, onlyThrows, text, trickyKeys } from './fuzz-kit.js';

const isLocal = (ip: string) => ip.startsWith('127.') || ip === '::1' || ip === '0.0.0.0' || ip === '::';
const name = fc.stringMatching(/^[0-9A-Za-z_.-][0-9A-Za-z/_.-]{0,10}$/);
const port = fc.integer({ min: 1, max: 65535 });
const ipv6 = fc.ipV6().map((a) => new URL(`http://[${a}]/`).hostname.slice(1, -1));
const grammarPiece = fc.oneof(text, name, port.map(String), port.map((p) => `${p}U`), fc.constantFrom('[::1]', '[', ']', '/run/x.sock', './a', 'http', 'https', '127.0.0.1', 'localhost', '::'));
const expression = fc.array(fc.tuple(grammarPiece, fc.constantFrom(':', ';', '/', '')), { maxLength: 7 }).map((parts) => parts.map(([p, sep]) => p + sep).join(''));

/** A base path segment -H takes: valid escapes, not a dot segment, no encoded slash, backslash or NUL. */
function isPlainSegment(segment: string): boolean {
  try {
    const decoded = decodeURIComponent(segment);
    return decoded !== '.' && decoded !== '..' && !/[/\\\0]/.test(decoded);
  } catch {
    return false;
  }
}

describe('fuzz: -L / -T / -R / -H expressions', () => {
  it('any expression: every parser answers a forwarder or BridgeConfigError', () => {
    fuzz(expression, (value) => {
      onlyThrows(() => parseLocalForwardOption(value, isLocal), BridgeConfigError);
      onlyThrows(() => parseRemoteForwardOption(value), BridgeConfigError);
      onlyThrows(() => parseLegacyRemoteForwardOption(value), BridgeConfigError);
      onlyThrows(() => parseHttpForwardOption(value), BridgeConfigError);
    });
  });

  it('expressions built from their parts parse back to those parts', () => {
    fuzz(fc.record({ relay: name, portName: fc.option(name.filter((n) => !n.includes('/')), { nil: undefined }), host: fc.oneof(fc.constantFrom('localhost', '127.0.0.1'), ipv6), port, udp: fc.boolean(), segment: fc.stringMatching(/^(?:[A-Za-z0-9\-._~!$&'()*+,=@]|%[0-9A-F]{2}){1,8}$/).filter(isPlainSegment) }), (t) => {
      const portText = `${t.port}${t.udp ? 'U' : ''}`;
      const hostText = t.host.includes(':') ? `[${t.host}]` : t.host;
      const remote = parseRemoteForwardOption(`${t.relay}:${t.portName ? `${t.portName}/` : ''}${hostText}:${portText}`);
      assert.equal(remote.relayName, t.relay);
      assert.deepEqual(remote.bindings, [{ kind: t.udp ? 'udp' : 'tcp', portName: t.portName ?? portText, host: t.host, port: t.port }]);
      const local = parseLocalForwardOption(`${t.host === 'localhost' ? '' : `${hostText}:`}${portText}${t.portName ? `/${t.portName}` : ''}:${t.relay}`, () => true);
      assert.equal(local.relayName, t.relay);
      assert.equal(local.bindings[0]!.portName, t.portName ?? portText);
      const http = parseHttpForwardOption(`${t.relay}:http/${hostText}/base/${t.segment}:${t.port}`);
      assert.deepEqual(http.bindings[0], { kind: 'http', portName: 'http', scheme: 'http', host: t.host, port: t.port, path: `/base/${t.segment}/`, insecure: false });
    });
  });
});

const yamlValue: fc.Arbitrary<unknown> = fc.oneof(text, fc.integer({ min: -70000, max: 70000 }), fc.boolean(), fc.constant(null), fc.constantFrom('5000U', '-53', 'yes', '1e3', '0x1F', '10s', 'round-robin', 'interval=5s'));
const bindingKeys = fc.constantFrom('BindAddress', 'BindPort', 'BindLocalSocket', 'PortName', 'HostName', 'Host', 'HostPort', 'LocalSocket', 'Http', 'Insecure', 'Path', 'NoAuthentication', 'LoadBalancing', 'HealthCheck');
const binding = fc.dictionary(fc.oneof(bindingKeys, trickyKeys), yamlValue, { maxKeys: 5 });
const entry = fc.dictionary(fc.oneof(fc.constantFrom('RelayName', 'ConnectionString', 'Prewarm'), bindingKeys, fc.constant('Bindings'), trickyKeys), fc.oneof(yamlValue, fc.array(binding, { maxLength: 3 })), { maxKeys: 6 });
const globalKeys = fc.constantFrom('AddressFamily', 'AzureRelayConnectionString', 'AzureRelayEndpoint', 'BindAddress', 'ConnectTimeout', 'GatewayPorts', 'KeepAliveInterval', 'LogLevel', 'Prewarm', 'MaxUdpFlows', 'LoadBalancing', 'HealthCheck', 'ClearAllForwardings');
const document = fc.dictionary(fc.oneof(globalKeys, fc.constantFrom('LocalForward', 'RemoteForward'), trickyKeys), fc.oneof(yamlValue, fc.array(entry, { maxLength: 3 }), entry, binding), { maxKeys: 6 });
const yamlText = fc.oneof(
  text,
  document.map((d) => stringify(d)),
  document.map((d) => JSON.stringify(d)),
  fc.tuple(document, fc.constantFrom('&a ', '*a', '!!binary ', '!!set ', '!!timestamp ', '<<: ', '? ', '--- ', '%YAML 1.1\n', '[', '{'), fc.nat()).map(([d, junk, at]) => {
    const s = stringify(d);
    const i = at % (s.length + 1);
    return s.slice(0, i) + junk + s.slice(i);
  }),
);

describe('fuzz: YAML configuration and -o overrides', () => {
  it('any file text: readConfigText answers a layer or BridgeConfigError; merging and checking it never throws', () => {
    fuzz(yamlText, (value) => {
      const layer = onlyThrows(() => readConfigText(value, 'fuzz.yml', isLocal), BridgeConfigError);
      if (!layer) return;
      const config = onlyThrows(() => mergeLayers([layer]), BridgeConfigError);
      if (config) onlyThrows(() => validateRunnable(config));
    });
  });

  it('any -o option: readOptionOverrides answers a layer or BridgeConfigError', () => {
    fuzz(fc.array(fc.oneof(text, fc.tuple(fc.oneof(globalKeys, fc.constantFrom('LocalForward', 'RemoteForward'), text), fc.oneof(text, yamlText.map((t) => t.replace(/\n/g, ' ')))).map(([k, v]) => `${k}:${v}`)), { maxLength: 3 }), (options) => {
      onlyThrows(() => readOptionOverrides(options, isLocal), BridgeConfigError);
    });
  });
});

describe('fuzz: -H request path confinement', () => {
  const basePath = fc.array(fc.stringMatching(/^[a-z0-9]{1,5}$/), { maxLength: 3 }).map((s) => (s.length ? `/${s.join('/')}/` : '/'));
  const pathPiece = fc.oneof(text, fc.constantFrom('..', '.', '%2e%2e', '%2E.', '..%2f', '%2f', '%5c', '\\', '..;', '%00', '', 'r', 'R', '%72', '?', '#', 'sb-hc-token=x'));
  const requestTarget = fc.array(pathPiece, { maxLength: 8 }).map((p) => `/${p.join('/')}`);

  it('any request target: the answer is undefined (400) or a path below the base that no decoding turns into a climb', () => {
    fuzz(fc.tuple(fc.oneof(requestTarget, text), basePath), ([target, base]) => {
      const path = onlyThrows(() => targetPath(target, 'r', base));
      if (path === undefined) return;
      assert.ok(path.startsWith(base), `${path} is not below ${base}`);
      assert.match(path, /^[\x21-\x7e]*$/, 'only what a request line carries');
      const rest = path.slice(base.length).split('?')[0]!;
      for (const segment of rest.split('/')) {
        const decoded = decodeURIComponent(segment);
        assert.ok(decoded !== '..' && decoded !== '.', `a dot segment went out: ${path}`);
        assert.doesNotMatch(decoded, /[/\\\0]/, `an encoded slash, backslash or NUL went out: ${path}`);
      }
      assert.doesNotMatch(path, /[?&]sb-hc-/i, 'the relay token never goes to the target');
    });
  });
});
