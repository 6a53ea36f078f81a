/**
 * Proxy settings without sockets: proxy URLs (schemes, defaults, percent-decoded credentials,
 * errors that never echo a password), NO_PROXY entries (names, suffixes, *, IPs, CIDRs, ports),
 * which variable wins for which destination, and the command-line flags.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Command } from 'commander';
import { addProxyOptions, proxyFrom, type ProxyFlags } from '../../src/cli/proxy-options.js';
import { NoProxyList } from '../../src/proxy/no-proxy.js';
import { ProxySettingsError } from '../../src/proxy/proxy-error.js';
import { ProxyPolicy } from '../../src/proxy/proxy-policy.js';
import { parseProxyUrl } from '../../src/proxy/proxy-url.js';

describe('proxy URLs', () => {
  it('reads http and socks5 URLs with their default ports', () => {
    assert.deepEqual(parseProxyUrl('http://proxy.corp:3128', 'X'), { kind: 'http', host: 'proxy.corp', port: 3128, label: 'http://proxy.corp:3128' });
    assert.deepEqual(parseProxyUrl('http://Proxy.Corp', 'X'), { kind: 'http', host: 'proxy.corp', port: 80, label: 'http://proxy.corp:80' });
    assert.deepEqual(parseProxyUrl('socks5://10.0.0.1', 'X'), { kind: 'socks5', host: '10.0.0.1', port: 1080, label: 'socks5://10.0.0.1:1080' });
    assert.equal(parseProxyUrl('socks5h://gw:1081', 'X').kind, 'socks5');
    assert.deepEqual(parseProxyUrl('http://[::1]:8080/', 'X'), { kind: 'http', host: '::1', port: 8080, label: 'http://[::1]:8080' });
  });

  it('takes host:port without a scheme as http, as curl does', () => {
    assert.equal(parseProxyUrl('proxy.corp:8080', 'X').label, 'http://proxy.corp:8080');
  });

  it('percent-decodes the user name and password, and keeps them out of the label', () => {
    const server = parseProxyUrl('http://DOMAIN%5Cuser:p%40ss%3Aw%25rd@proxy:3128', 'X');
    assert.equal(server.username, 'DOMAIN\\user');
    assert.equal(server.password, 'p@ss:w%rd');
    assert.equal(server.label, 'http://proxy:3128');
    assert.equal(parseProxyUrl('http://user@proxy:3128', 'X').password, '');
  });

  for (const [text, pattern] of [
    ['', /empty/],
    ['https://proxy:443', /https:\/\/ proxies .* not supported/],
    ['socks4://proxy:1080', /SOCKS4 is not supported/],
    ['ftp://proxy:21', /not a proxy scheme/],
    ['http://proxy:3128/path', /no path/],
    ['http://proxy:99999', /not a proxy URL|port/],
    ['http://:secret@proxy:3128', /password but no user name/],
    ['http://user:bad%zzsecret@proxy:3128', /percent-encoded/],
    ['socks5://user:@proxy:1080', /SOCKS5 password must be 1 to 255 bytes/],
    ['http://exa mple:80', /not a proxy URL|not a valid host/],
  ] as const) {
    it(`refuses ${JSON.stringify(text)} with a message naming the source, never the password`, () => {
      assert.throws(
        () => parseProxyUrl(text, 'HTTPS_PROXY'),
        (err: Error) => err instanceof ProxySettingsError && err.message.startsWith('HTTPS_PROXY: ') && pattern.test(err.message) && !/secret|zz/.test(err.message),
      );
    });
  }
});

describe('NO_PROXY', () => {
  const list = NoProxyList.parse('example.com, .corp.example, *.svc.local  10.1.2.3,10.8.0.0/16 fd00::/8 ::1,[::2]:9350 relay.test:443', 'NO_PROXY');

  it('matches host names and everything under them, without DNS', () => {
    assert.ok(list.matches('example.com', 443));
    assert.ok(list.matches('ns.EXAMPLE.com.', 443));
    assert.ok(!list.matches('badexample.com', 443));
    assert.ok(list.matches('corp.example', 443));
    assert.ok(list.matches('a.b.corp.example', 443));
    assert.ok(list.matches('x.svc.local', 80));
    assert.ok(!list.matches('10.1.2.4', 443));
  });

  it('matches IP addresses and CIDR ranges, IPv6 with or without brackets', () => {
    assert.ok(list.matches('10.1.2.3', 1));
    assert.ok(list.matches('10.8.255.1', 9350));
    assert.ok(!list.matches('10.9.0.1', 9350));
    assert.ok(list.matches('[fd12::1]', 443));
    assert.ok(list.matches('::1', 443));
    assert.ok(!list.matches('fe80::1', 443));
  });

  it('honours a port when an entry has one', () => {
    assert.ok(list.matches('relay.test', 443));
    assert.ok(!list.matches('relay.test', 9350));
    assert.ok(list.matches('::2', 9350));
    assert.ok(!list.matches('::2', 9351));
  });

  it('* matches everything; an empty list nothing', () => {
    assert.ok(NoProxyList.parse('localhost,*', 'NO_PROXY').matches('anything.example', 1));
    assert.ok(!NoProxyList.parse(' , ', 'NO_PROXY').matches('anything.example', 1));
  });

  for (const bad of ['10.0.0.0/33', 'host:0', 'host:http', '<local>', '[name]:80']) {
    it(`refuses ${JSON.stringify(bad)} naming the variable`, () => {
      assert.throws(() => NoProxyList.parse(`ok.example,${bad}`, 'no_proxy'), (err: Error) => err instanceof ProxySettingsError && err.message.startsWith('no_proxy: ') && err.message.includes(bad));
    });
  }
});

describe('proxy policy', () => {
  const proxyOf = (policy: ProxyPolicy, host: string, port: number, secure: boolean) => policy.route(host, port, secure)?.label;

  it('takes HTTPS_PROXY for TLS relays, HTTP_PROXY for plain ones, ALL_PROXY for what is left; lower case first', () => {
    const env = { HTTPS_PROXY: 'http://upper-https:1', https_proxy: 'http://lower-https:2', HTTP_PROXY: 'http://upper-http:3', ALL_PROXY: 'socks5://all:4' };
    const policy = ProxyPolicy.from(undefined, { env });
    assert.equal(proxyOf(policy, 'ns.servicebus.windows.net', 443, true), 'http://lower-https:2');
    assert.equal(proxyOf(policy, 'relay.example', 80, false), 'http://upper-http:3');
    const onlyAll = ProxyPolicy.from(undefined, { env: { all_proxy: 'socks5://all:4', HTTPS_PROXY: '  ' } });
    assert.equal(proxyOf(onlyAll, 'relay.example', 443, true), 'socks5://all:4');
    assert.equal(proxyOf(onlyAll, 'relay.example', 80, false), 'socks5://all:4');
    assert.equal(ProxyPolicy.from(undefined, { env: {} }), ProxyPolicy.DIRECT);
  });

  it('an environment proxy leaves loopback and link-local destinations alone; an explicit one does not', () => {
    const fromEnv = ProxyPolicy.from(undefined, { env: { HTTPS_PROXY: 'http://proxy:3128', HTTP_PROXY: 'http://proxy:3128' } });
    for (const host of ['localhost', 'relay.localhost', '127.0.0.1', '127.1.2.3', '::1', '[::1]', '169.254.169.254', 'fe80::1']) {
      assert.equal(proxyOf(fromEnv, host, 9350, false), undefined, host);
    }
    assert.equal(proxyOf(fromEnv, '10.0.0.1', 9350, false), 'http://proxy:3128');
    const explicit = ProxyPolicy.from('http://proxy:3128', { env: {} });
    assert.equal(proxyOf(explicit, '127.0.0.1', 9350, false), 'http://proxy:3128');
  });

  it('NO_PROXY applies to explicit and environment proxies alike', () => {
    const env = { NO_PROXY: 'relay.example', no_proxy: '10.0.0.0/8', HTTPS_PROXY: 'http://proxy:3128' };
    assert.equal(proxyOf(ProxyPolicy.from(undefined, { env }), '10.2.3.4', 443, true), undefined, 'no_proxy wins over NO_PROXY');
    assert.equal(proxyOf(ProxyPolicy.from(undefined, { env }), 'relay.example', 443, true), 'http://proxy:3128');
    assert.equal(proxyOf(ProxyPolicy.from('socks5://gw:1080', { env }), '10.2.3.4', 443, true), undefined);
  });

  it('false and "none" mean no proxy, whatever the environment', () => {
    const env = { HTTPS_PROXY: 'http://proxy:3128', ALL_PROXY: 'http://proxy:3128' };
    assert.equal(ProxyPolicy.from(false, { env }), ProxyPolicy.DIRECT);
    assert.equal(ProxyPolicy.from(' None ', { env }), ProxyPolicy.DIRECT);
    assert.equal(proxyOf(ProxyPolicy.DIRECT, 'relay.example', 443, true), undefined);
  });

  it('a malformed variable is an error naming it, even for a destination that would not use it', () => {
    assert.throws(() => ProxyPolicy.from(undefined, { env: { HTTP_PROXY: 'ftp://x:1' } }), /^ProxySettingsError: HTTP_PROXY: /);
    assert.throws(() => ProxyPolicy.from('http://p:1', { env: { NO_PROXY: '1.2.3.4/99' } }), /^ProxySettingsError: NO_PROXY: /);
    assert.throws(() => ProxyPolicy.from('nonsense://', { source: '--proxy' }), /^ProxySettingsError: --proxy: /);
  });

  it('describes itself without credentials', () => {
    const policy = ProxyPolicy.from(undefined, { env: { HTTPS_PROXY: 'http://u:secret@proxy:3128', NO_PROXY: 'x.example' } });
    assert.equal(policy.describe(), 'http://proxy:3128 for TLS relays, none for plain ones, except loopback and NO_PROXY destinations');
    assert.equal(ProxyPolicy.from('socks5://u:secret@gw:1080', { env: {} }).describe(), 'socks5://gw:1080');
  });
});

describe('--proxy and --no-proxy', () => {
  const parse = (args: string[]): ProxyFlags => {
    const command = addProxyOptions(new Command('x').exitOverride());
    command.parse(args, { from: 'user' });
    return command.opts<ProxyFlags>();
  };
  const env = { ALL_PROXY: 'http://env-proxy:3128' };

  it('--no-proxy ignores the environment; neither flag takes it; --proxy overrides it', () => {
    const warnings: string[] = [];
    const warn = (line: string) => warnings.push(line);
    assert.equal(parse(['--no-proxy']).proxy, false);
    assert.equal(proxyFrom(parse(['--no-proxy']), warn, env), ProxyPolicy.DIRECT);
    assert.equal(proxyFrom(parse(['--proxy', 'none']), warn, env), ProxyPolicy.DIRECT);
    assert.equal(proxyFrom(parse([]), warn, env).route('relay.example', 443, true)?.label, 'http://env-proxy:3128');
    assert.equal(proxyFrom(parse(['--proxy', 'socks5://gw:1080']), warn, env).route('relay.example', 443, true)?.label, 'socks5://gw:1080');
    assert.deepEqual(warnings, []);
  });

  it('warns about a password on the command line, without showing it', () => {
    const warnings: string[] = [];
    proxyFrom(parse(['--proxy', 'http://user:hunter2@proxy:3128']), (line) => warnings.push(line), {});
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /--proxy holds a password/);
    assert.doesNotMatch(warnings[0]!, /hunter2/);
  });
});
