import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import {
  credentialChecker,
  encodeSocks5Reply,
  formatIPv6,
  parseIPv6,
  type Socks5Action,
  Socks5Reply,
  type Socks5ServerOptions,
  Socks5ServerHandshake,
} from '../../src/tunnel/socks5-protocol.js';

const hex = (text: string): Buffer => Buffer.from(text.replace(/\s+/g, ''), 'hex');
const bytes = (...parts: (string | Buffer | number[])[]): Buffer =>
  Buffer.concat(parts.map((p) => (Buffer.isBuffer(p) ? p : Array.isArray(p) ? Buffer.from(p) : hex(p))));
const port = (n: number): Buffer => Buffer.from([n >> 8, n & 0xff]);
const domain = (name: string | Buffer): Buffer => {
  const b = Buffer.isBuffer(name) ? name : Buffer.from(name, 'latin1');
  return Buffer.concat([Buffer.from([b.length]), b]);
};

const NO_AUTH_GREETING = hex('05 01 00');
const SELECT_NO_AUTH = { type: 'write', bytes: hex('05 00') } as const;
const FAILURE_REPLY = (code: number): Socks5Action => ({ type: 'write', bytes: bytes([5, code, 0, 1, 0, 0, 0, 0, 0, 0]) });
const withAuth: Socks5ServerOptions = { checkCredentials: credentialChecker('alice', 's3cret') };
const login = (user: string, pass: string): Buffer => bytes([1], domain(Buffer.from(user)), domain(Buffer.from(pass)));

/** Feeds `data` cut at the given offsets, stopping once the handshake is finished. */
function feedInPieces(data: Buffer, cuts: number[], options: Socks5ServerOptions = {}): Socks5Action[] {
  const handshake = new Socks5ServerHandshake(options);
  const actions: Socks5Action[] = [];
  let start = 0;
  for (const end of [...cuts, data.length]) {
    if (handshake.finished) break;
    actions.push(...handshake.feed(data.subarray(start, end)));
    start = end;
  }
  return actions;
}

/** The same actions come out whole, split at every byte position, and one byte at a time. */
function assertEverySplit(data: Buffer, expected: Socks5Action[], options: Socks5ServerOptions = {}): void {
  assert.deepEqual(feedInPieces(data, [], options), expected, 'in one chunk');
  for (let i = 0; i <= data.length; i++) assert.deepEqual(feedInPieces(data, [i], options), expected, `split at ${i}`);
  for (let i = 1; i < data.length; i++) assert.deepEqual(feedInPieces(data, [i, i + 1, i + 2].filter((c) => c <= data.length), options), expected, `three pieces from ${i}`);
  const oneByOne = Array.from({ length: data.length }, (_, i) => i + 1);
  assert.deepEqual(feedInPieces(data, oneByOne, options), expected, 'one byte at a time');
}

function connect(target: string, host: string, p: number, addressType: 'ipv4' | 'domain' | 'ipv6', leftover = Buffer.alloc(0)): Socks5Action {
  return { type: 'connect', request: { target, host, port: p, addressType }, leftover };
}

describe('SOCKS5 CONNECT without authentication', () => {
  it('handles IPv4 (ATYP 0x01)', () => {
    assertEverySplit(bytes(NO_AUTH_GREETING, '05 01 00 01 0a 00 00 05', port(22)), [SELECT_NO_AUTH, connect('10.0.0.5:22', '10.0.0.5', 22, 'ipv4')]);
  });

  it('handles a domain name, unresolved (ATYP 0x03)', () => {
    assertEverySplit(bytes(NO_AUTH_GREETING, '05 01 00 03', domain('example.com'), port(443)), [SELECT_NO_AUTH, connect('example.com:443', 'example.com', 443, 'domain')]);
  });

  it('handles IPv6 and brackets it in the target (ATYP 0x04)', () => {
    assertEverySplit(bytes(NO_AUTH_GREETING, '05 01 00 04 fd00 0000 0000 0000 0000 0000 0000 0005', port(22)), [SELECT_NO_AUTH, connect('[fd00::5]:22', 'fd00::5', 22, 'ipv6')]);
  });

  it('accepts IP literals sent as domain names', () => {
    for (const [name, target, host] of [
      ['::1', '[::1]:22', '::1'],
      ['[::1]', '[::1]:22', '::1'],
      ['10.0.0.5', '10.0.0.5:22', '10.0.0.5'],
    ] as const) {
      assert.deepEqual(feedInPieces(bytes(NO_AUTH_GREETING, '05 01 00 03', domain(name), port(22)), []), [SELECT_NO_AUTH, connect(target, host, 22, 'domain')]);
    }
  });

  it('accepts a 253-character name and the highest port', () => {
    const name = `${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(61)}`;
    assert.equal(name.length, 253);
    assertEverySplit(bytes(NO_AUTH_GREETING, '05 01 00 03', domain(name), port(65535)), [SELECT_NO_AUTH, connect(`${name}:65535`, name, 65535, 'domain')]);
  });

  it('picks no-auth among several offered methods', () => {
    assertEverySplit(bytes('05 03 01 02 00', '05 01 00 01 7f 00 00 01', port(80)), [SELECT_NO_AUTH, connect('127.0.0.1:80', '127.0.0.1', 80, 'ipv4')]);
  });

  it('hands back bytes the client sent after the request', () => {
    const actions = feedInPieces(bytes(NO_AUTH_GREETING, '05 01 00 01 0a 00 00 05', port(80), Buffer.from('GET / HTTP/1.1\r\n')), []);
    assert.deepEqual(actions, [SELECT_NO_AUTH, connect('10.0.0.5:80', '10.0.0.5', 80, 'ipv4', Buffer.from('GET / HTTP/1.1\r\n'))]);
  });

  it('refuses to be fed after it finished', () => {
    const handshake = new Socks5ServerHandshake();
    handshake.feed(bytes(NO_AUTH_GREETING, '05 01 00 01 0a 00 00 05', port(80)));
    assert.ok(handshake.finished);
    assert.throws(() => handshake.feed(Buffer.from('x')), /already finished/);
  });

  it('asks for more bytes on a partial message', () => {
    const handshake = new Socks5ServerHandshake();
    assert.deepEqual(handshake.feed(hex('05')), []);
    assert.deepEqual(handshake.feed(hex('02 00')), []);
    assert.deepEqual(handshake.feed(hex('01')), [SELECT_NO_AUTH]);
    assert.deepEqual(handshake.feed(hex('05 01 00 03 05 68')), []);
    assert.ok(!handshake.finished);
  });
});

describe('SOCKS5 refusals', () => {
  const failWith = (reason: RegExp) => (actions: Socks5Action[]) => {
    const last = actions[actions.length - 1];
    assert.ok(last && last.type === 'fail' && reason.test(last.reason), JSON.stringify(last));
  };

  const cases: [string, Buffer, Socks5Action[], RegExp, Socks5ServerOptions?][] = [
    ['a SOCKS4 client', hex('04 01 00 16 0a 00 00 05 00'), [], /version byte 0x04 \(SOCKS4 is not supported; use SOCKS5\)/],
    ['another version byte', hex('47 45 54 20'), [], /not a SOCKS5 client: version byte 0x47$/],
    ['no acceptable method', hex('05 01 02'), [{ type: 'write', bytes: hex('05 ff') }], /offered: 02; this proxy requires no authentication \(00\)/],
    ['an empty method list', hex('05 00'), [{ type: 'write', bytes: hex('05 ff') }], /offered: none/],
    ['BIND', bytes(NO_AUTH_GREETING, '05 02 00 01 0a 00 00 05', port(22)), [SELECT_NO_AUTH, FAILURE_REPLY(0x07)], /command BIND is not supported/],
    ['UDP ASSOCIATE', bytes(NO_AUTH_GREETING, '05 03 00 01 00 00 00 00', port(0)), [SELECT_NO_AUTH, FAILURE_REPLY(0x07)], /command UDP ASSOCIATE is not supported/],
    ['an unknown command', bytes(NO_AUTH_GREETING, '05 09 00 01'), [SELECT_NO_AUTH, FAILURE_REPLY(0x07)], /command 0x09 is not supported/],
    ['ATYP 0x02', bytes(NO_AUTH_GREETING, '05 01 00 02 00 00'), [SELECT_NO_AUTH, FAILURE_REPLY(0x08)], /address type 0x02/],
    ['ATYP 0x05', bytes(NO_AUTH_GREETING, '05 01 00 05'), [SELECT_NO_AUTH, FAILURE_REPLY(0x08)], /address type 0x05/],
    ['a request with version 4', bytes(NO_AUTH_GREETING, '04 01 00 01 0a 00 00 05', port(22)), [SELECT_NO_AUTH, FAILURE_REPLY(0x01)], /request has version byte 0x04/],
    ['an empty domain name', bytes(NO_AUTH_GREETING, '05 01 00 03 00', port(22)), [SELECT_NO_AUTH, FAILURE_REPLY(0x04)], /empty domain name/],
    ['a domain name with a space', bytes(NO_AUTH_GREETING, '05 01 00 03', domain('bad host'), port(22)), [SELECT_NO_AUTH, FAILURE_REPLY(0x04)], /not a valid host name/],
    ['a domain name with non-ASCII bytes', bytes(NO_AUTH_GREETING, '05 01 00 03', domain(hex('ff 61')), port(22)), [SELECT_NO_AUTH, FAILURE_REPLY(0x04)], /not a valid host name/],
    ['a 255-character domain name', bytes(NO_AUTH_GREETING, '05 01 00 03', domain('a.'.repeat(127) + 'a'), port(22)), [SELECT_NO_AUTH, FAILURE_REPLY(0x04)], /not a valid host name/],
    ['a numeric name getaddrinfo would read as IPv4', bytes(NO_AUTH_GREETING, '05 01 00 03', domain('10.1'), port(22)), [SELECT_NO_AUTH, FAILURE_REPLY(0x04)], /not a valid IPv4 address/],
    ['an IPv6 zone', bytes(NO_AUTH_GREETING, '05 01 00 03', domain('fe80::1%eth0'), port(22)), [SELECT_NO_AUTH, FAILURE_REPLY(0x04)], /zone identifiers/],
    ['port 0', bytes(NO_AUTH_GREETING, '05 01 00 01 0a 00 00 05', port(0)), [SELECT_NO_AUTH, FAILURE_REPLY(0x01)], /port 0/],
  ];
  for (const [name, data, writes, reason, options] of cases) {
    it(`refuses ${name}`, () => {
      const check = failWith(reason);
      for (let i = 0; i <= data.length; i++) {
        const actions = feedInPieces(data, [i], options);
        check(actions);
        assert.deepEqual(actions.slice(0, -1), writes, `split at ${i}`);
      }
    });
  }
});

describe('SOCKS5 with username/password (RFC 1929)', () => {
  const greeting = hex('05 02 00 02');
  const request = bytes('05 01 00 03', domain('db.internal'), port(5432));

  it('selects 0x02, accepts the right credentials and goes on to the request', () => {
    assertEverySplit(
      bytes(greeting, login('alice', 's3cret'), request),
      [
        { type: 'write', bytes: hex('05 02') },
        { type: 'write', bytes: hex('01 00') },
        { type: 'authenticated', username: 'alice' },
        connect('db.internal:5432', 'db.internal', 5432, 'domain'),
      ],
      withAuth,
    );
  });

  const failures: [string, Buffer][] = [
    ['a wrong password', login('alice', 's3creT')],
    ['a wrong username', login('bob', 's3cret')],
    ['a password with a suffix', login('alice', 's3cret!')],
    ['empty credentials', hex('01 00 00')],
  ];
  for (const [name, credentials] of failures) {
    it(`answers 01 01 to ${name} and closes`, () => {
      const data = bytes(greeting, credentials, request);
      for (let i = 0; i <= data.length; i++) {
        const actions = feedInPieces(data, [i], withAuth);
        assert.deepEqual(actions.slice(0, 2), [
          { type: 'write', bytes: hex('05 02') },
          { type: 'write', bytes: hex('01 01') },
        ]);
        const last = actions[2];
        assert.ok(actions.length === 3 && last?.type === 'fail' && /authentication failed for user/.test(last.reason), `split at ${i}`);
      }
    });
  }

  it('never logs the password', () => {
    const actions = feedInPieces(bytes(greeting, login('alice', 'hunter2')), [], withAuth);
    assert.ok(!JSON.stringify(actions).includes('hunter2'));
  });

  it('answers 05 FF when the client offers no username/password', () => {
    assertEverySplit(hex('05 01 00'), [
      { type: 'write', bytes: hex('05 ff') },
      { type: 'fail', reason: 'client offered no acceptable authentication method (offered: 00; this proxy requires username/password (02))' },
    ], withAuth);
  });

  it('answers 01 01 to a bad sub-negotiation version', () => {
    assertEverySplit(bytes(greeting, '05 05', Buffer.from('alice')), [
      { type: 'write', bytes: hex('05 02') },
      { type: 'write', bytes: hex('01 01') },
      { type: 'fail', reason: 'bad username/password sub-negotiation version 0x05' },
    ], withAuth);
  });

  it('handles 255-byte credentials', () => {
    const user = 'u'.repeat(255);
    const pass = 'p'.repeat(255);
    assertEverySplit(
      bytes(greeting, login(user, pass)),
      [
        { type: 'write', bytes: hex('05 02') },
        { type: 'write', bytes: hex('01 00') },
        { type: 'authenticated', username: user },
      ],
      { checkCredentials: credentialChecker(user, pass) },
    );
  });

  it('compares UTF-8 credentials byte for byte', () => {
    const check = credentialChecker('jürgen', 'pässwörd');
    assert.ok(check(Buffer.from('jürgen'), Buffer.from('pässwörd')));
    assert.ok(!check(Buffer.from('jurgen'), Buffer.from('pässwörd')));
    assert.ok(!check(Buffer.from('jürgen', 'latin1'), Buffer.from('pässwörd')));
  });

  it('rejects configured credentials outside 1..255 bytes', () => {
    assert.throws(() => credentialChecker('', 'x'), /username must be 1 to 255 bytes/);
    assert.throws(() => credentialChecker('x', ''), /password must be 1 to 255 bytes/);
    assert.throws(() => credentialChecker('x', 'ü'.repeat(128)), /password must be 1 to 255 bytes/);
  });
});

describe('SOCKS5 replies', () => {
  it('encodes 0.0.0.0:0 by default', () => {
    assert.deepEqual(encodeSocks5Reply(Socks5Reply.HostUnreachable), hex('05 04 00 01 00000000 0000'));
  });

  it('encodes every reply code', () => {
    const codes = Object.values(Socks5Reply);
    assert.deepEqual(codes, [0, 1, 2, 3, 4, 5, 6, 7, 8]);
    for (const code of codes) assert.equal(encodeSocks5Reply(code)[1], code);
  });

  it('encodes BND.ADDR and BND.PORT for each address type', () => {
    assert.deepEqual(encodeSocks5Reply(Socks5Reply.Succeeded, { host: '127.0.0.1', port: 1080 }), hex('05 00 00 01 7f000001 0438'));
    assert.deepEqual(encodeSocks5Reply(Socks5Reply.Succeeded, { host: '::ffff:127.0.0.1', port: 1080 }), hex('05 00 00 01 7f000001 0438'));
    assert.deepEqual(encodeSocks5Reply(Socks5Reply.Succeeded, { host: '::1', port: 1080 }), hex('05 00 00 04 00000000000000000000000000000001 0438'));
    assert.deepEqual(encodeSocks5Reply(Socks5Reply.Succeeded, { host: 'fe80::1%eth0', port: 1 }), hex('05 00 00 04 fe800000000000000000000000000001 0001'));
    assert.deepEqual(encodeSocks5Reply(Socks5Reply.Succeeded, { host: 'proxy.local', port: 65535 }), bytes('05 00 00 03', domain('proxy.local'), 'ffff'));
    assert.deepEqual(encodeSocks5Reply(Socks5Reply.Succeeded, { host: 'x'.repeat(256), port: 1 }), hex('05 00 00 01 00000000 0001'));
  });
});

describe('IPv6 text and bytes', () => {
  const vectors: [string, string][] = [
    ['00000000000000000000000000000000', '::'],
    ['00000000000000000000000000000001', '::1'],
    ['00010000000000000000000000000000', '1::'],
    ['fd000000000000000000000000000005', 'fd00::5'],
    ['20010db8000000000001000000000001', '2001:db8::1:0:0:1'],
    ['20010db8000000010001000100010001', '2001:db8:0:1:1:1:1:1'],
    ['20010db8000000000000000100000000', '2001:db8::1:0:0'],
    ['00000000000000000000ffff0a000005', '::ffff:a00:5'],
  ];
  for (const [raw, text] of vectors) {
    it(`formats ${text} (RFC 5952) and parses it back`, () => {
      assert.equal(formatIPv6(hex(raw)), text);
      assert.deepEqual(parseIPv6(text), hex(raw));
    });
  }

  it('parses embedded IPv4 and uncompressed forms', () => {
    assert.deepEqual(parseIPv6('::ffff:10.0.0.5'), hex('00000000000000000000ffff0a000005'));
    assert.deepEqual(parseIPv6('::10.0.0.5'), hex('0000000000000000000000000a000005'));
    assert.deepEqual(parseIPv6('1:2:3:4:5:6:10.0.0.5'), hex('000100020003000400050006 0a000005'));
    assert.deepEqual(parseIPv6('FD00:0:0:0:0:0:0:5'), hex('fd000000000000000000000000000005'));
  });

  it('agrees with the URL parser on random addresses', () => {
    for (let i = 0; i < 300; i++) {
      const raw = randomBytes(16);
      if (i % 3 === 0) raw.fill(0, 4, 4 + (i % 12));
      const text = formatIPv6(raw);
      assert.equal(`[${text}]`, new URL(`http://[${text}]/`).hostname);
      assert.deepEqual(parseIPv6(text), raw);
    }
  });
});
