import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Allowlist, AllowlistError, parseAllowEntry } from '../../src/tunnel/allowlist.js';
import { parseTarget } from '../../src/protocol/aztunnel-envelope.js';

/** The entry text that allows `target`, or undefined. */
function matched(entries: string[], target: string): string | undefined {
  const { host, port } = parseTarget(target);
  return Allowlist.parse(entries).match(host, port)?.entry?.text;
}

function allows(entries: string[], target: string): boolean {
  const { host, port } = parseTarget(target);
  return Allowlist.parse(entries).match(host, port) !== undefined;
}

describe('allowlist entry forms', () => {
  // [entry, targets it allows, targets it does not]
  const forms: [string, string[], string[]][] = [
    ['*', ['10.0.0.5:22', 'example.com:443', '[::1]:1'], []],
    ['*:*', ['10.0.0.5:22', 'example.com:1'], []],
    ['10.0.0.5:22', ['10.0.0.5:22', '[::ffff:10.0.0.5]:22', '[::ffff:a00:5]:22'], ['10.0.0.5:23', '10.0.0.6:22', 'ten.example:22']],
    ['10.0.0.5:*', ['10.0.0.5:1', '10.0.0.5:65535'], ['10.0.0.6:22']],
    ['db.internal:5432', ['db.internal:5432', 'DB.INTERNAL:5432', 'db.internal.:5432'], ['db.internal:5433', 'db.internal.evil:5432', 'x.db.internal:5432', '10.0.0.7:5432']],
    ['DB.Internal.:5432', ['db.internal:5432'], []],
    ['db.internal:*', ['db.internal:1', 'db.internal:65535'], ['other:1']],
    ['*:22', ['10.0.0.5:22', 'anything.example:22', '[fd00::1]:22'], ['10.0.0.5:23', 'anything.example:80']],
    ['10.0.0.0/8:22', ['10.0.0.5:22', '10.255.255.255:22', '[::ffff:10.1.2.3]:22'], ['11.0.0.1:22', '10.0.0.5:80', 'ten.example:22']],
    ['10.0.0.0/8:*', ['10.0.0.5:22', '10.1.1.1:8080'], ['192.168.1.1:22']],
    ['10.0.0.5/8:*', ['10.200.0.1:1'], ['11.0.0.0:1']],
    ['0.0.0.0/0:443', ['1.2.3.4:443', '[::ffff:1.2.3.4]:443'], ['[2001:db8::1]:443', 'example.com:443']],
    ['192.168.1.7/32:22', ['192.168.1.7:22'], ['192.168.1.8:22']],
    ['[fd00::/8]:22', ['[fd00::1]:22', '[fdff:ffff::1]:22', '[FD12:3456::abcd]:22'], ['[fe00::1]:22', '[fd00::1]:23', '10.0.0.1:22']],
    ['[fd00::/8]:*', ['[fd00::1]:9'], ['[::1]:9']],
    ['[::1]:22', ['[::1]:22', '[0:0:0:0:0:0:0:1]:22'], ['[::2]:22', '127.0.0.1:22', 'localhost:22']],
    ['[0:0::1]:*', ['[::1]:5'], []],
    ['[::ffff:10.0.0.5]:22', ['10.0.0.5:22', '[::ffff:10.0.0.5]:22'], ['10.0.0.6:22']],
    ['[::ffff:0:0/96]:22', ['10.9.9.9:22'], ['[fd00::1]:22']],
    ['web.example:8000-8100', ['web.example:8000', 'web.example:8050', 'web.example:8100'], ['web.example:7999', 'web.example:8101']],
    ['*:1-1024', ['x.example:22', '10.0.0.1:1024'], ['x.example:1025']],
    ['10.0.0.0/24:80-81', ['10.0.0.9:81'], ['10.0.0.9:82', '10.0.1.9:80']],
    ['  10.0.0.5:22  ', ['10.0.0.5:22'], []],
  ];
  for (const [entry, yes, no] of forms) {
    it(`"${entry}" allows ${yes.join(', ') || 'nothing listed'}${no.length ? ` and not ${no.join(', ')}` : ''}`, () => {
      for (const target of yes) assert.ok(allows([entry], target), `${entry} should allow ${target}`);
      for (const target of no) assert.ok(!allows([entry], target), `${entry} should not allow ${target}`);
    });
  }

  it('reports the first entry that matched, as written', () => {
    const entries = ['db.internal:5432', '10.0.0.0/8:22', '*:22', '*'];
    assert.equal(matched(entries, '10.0.0.5:22'), '10.0.0.0/8:22');
    assert.equal(matched(entries, 'other:22'), '*:22');
    assert.equal(matched(entries, 'DB.internal:5432'), 'db.internal:5432');
    assert.equal(matched(entries, 'other:80'), '*');
    assert.equal(matched(['10.0.0.5:22'], '10.0.0.6:22'), undefined);
  });

  it('describes entries in normalised form', () => {
    assert.deepEqual(parseAllowEntry('[FD00:0:0::1]:22').host, { kind: 'address', address: 'fd00::1' });
    assert.deepEqual(parseAllowEntry('[FD00::/8]:*'), { text: '[FD00::/8]:*', host: { kind: 'network', address: 'fd00::', prefix: 8 }, port: { kind: 'any' } });
    assert.deepEqual(parseAllowEntry('Web.Example.:80').host, { kind: 'name', name: 'web.example' });
    assert.deepEqual(parseAllowEntry('*:22'), { text: '*:22', host: { kind: 'any' }, port: { kind: 'range', from: 22, to: 22 } });
  });

  it('allows everything when empty, and says so', () => {
    const list = Allowlist.parse([]);
    assert.ok(list.isEmpty);
    assert.deepEqual(list.match('anything', 1), { entry: undefined, via: 'empty-allowlist' });
    assert.ok(!Allowlist.parse(['*']).isEmpty);
  });
});

describe('allowlist validation at start', () => {
  const invalid: [string, string][] = [
    ['', 'invalid --allow entry "": the entry is empty'],
    ['   ', 'invalid --allow entry "   ": the entry is empty'],
    ['db.internal', 'invalid --allow entry "db.internal": no port; write db.internal:PORT or db.internal:* (or * alone for any target)'],
    ['10.0.0.0/8', 'invalid --allow entry "10.0.0.0/8": no port; write 10.0.0.0/8:PORT or 10.0.0.0/8:* (or * alone for any target)'],
    ['::1:22', 'invalid --allow entry "::1:22": IPv6 addresses and networks must be bracketed, e.g. [::1]:22'],
    ['fd00::/8:22', 'invalid --allow entry "fd00::/8:22": IPv6 addresses and networks must be bracketed, e.g. [fd00::/8]:22'],
    ['[fd00::/8]', 'invalid --allow entry "[fd00::/8]": no port; write [fd00::/8]:PORT or [fd00::/8]:*'],
    ['[fd00::/8]22', 'invalid --allow entry "[fd00::/8]22": expected ":" and a port after "]"'],
    ['[fd00::/8:22', 'invalid --allow entry "[fd00::/8:22": missing "]"'],
    ['[10.0.0.0/8]:22', 'invalid --allow entry "[10.0.0.0/8]:22": brackets are only for IPv6 addresses and networks'],
    ['[db.internal]:22', 'invalid --allow entry "[db.internal]:22": brackets are only for IPv6 addresses and networks'],
    ['[fe80::1%eth0]:22', 'invalid --allow entry "[fe80::1%eth0]:22": IPv6 zone identifiers are not supported'],
    ['[fd00::zz]:22', 'invalid --allow entry "[fd00::zz]:22": "fd00::zz" is not an IPv6 address or network'],
    ['host:', 'invalid --allow entry "host:": port "" is not a number from 1 to 65535, a range like 8000-8100, or *'],
    ['host:0', 'invalid --allow entry "host:0": port "0" is not a number from 1 to 65535, a range like 8000-8100, or *'],
    ['host:65536', 'invalid --allow entry "host:65536": port "65536" is not a number from 1 to 65535, a range like 8000-8100, or *'],
    ['host:ssh', 'invalid --allow entry "host:ssh": port "ssh" is not a number from 1 to 65535, a range like 8000-8100, or *'],
    ['host:22,80', 'invalid --allow entry "host:22,80": port "22,80" is not a number from 1 to 65535, a range like 8000-8100, or *'],
    ['host:9000-8000', 'invalid --allow entry "host:9000-8000": port range 9000-8000 is reversed; write 8000-9000'],
    ['host:1-70000', 'invalid --allow entry "host:1-70000": port "1-70000" is not a number from 1 to 65535, a range like 8000-8100, or *'],
    [':22', 'invalid --allow entry ":22": the host is empty; use * for any host'],
    ['10.0.0.0/33:22', 'invalid --allow entry "10.0.0.0/33:22": prefix length "33" is not a number from 0 to 32'],
    ['[fd00::/129]:22', 'invalid --allow entry "[fd00::/129]:22": prefix length "129" is not a number from 0 to 128'],
    ['10.0.0.0/:22', 'invalid --allow entry "10.0.0.0/:22": prefix length "" is not a number from 0 to 32'],
    ['10.0.0/8:22', 'invalid --allow entry "10.0.0/8:22": "10.0.0" is not an IPv4 or IPv6 network address'],
    ['db.internal/8:22', 'invalid --allow entry "db.internal/8:22": "db.internal" is not an IPv4 or IPv6 network address'],
    ['*.example.com:443', 'invalid --allow entry "*.example.com:443": "*.example.com": * stands for the whole host or port; partial wildcards are not supported'],
    ['bad host:22', 'invalid --allow entry "bad host:22": "bad host" is not a valid host name'],
    ['10.1:22', 'invalid --allow entry "10.1:22": "10.1" is not a valid IPv4 address or host name'],
    ['300.1.1.1:22', 'invalid --allow entry "300.1.1.1:22": "300.1.1.1" is not a valid IPv4 address or host name'],
  ];
  for (const [entry, message] of invalid) {
    it(`rejects ${JSON.stringify(entry)}`, () => {
      assert.throws(
        () => Allowlist.parse([entry]),
        (err: unknown) => err instanceof AllowlistError && err.message === message && err.problems.length === 1,
      );
    });
  }

  it('lists every invalid entry in one error', () => {
    assert.throws(
      () => Allowlist.parse(['10.0.0.5:22', 'nope', '*', '::1:22']),
      (err: unknown) =>
        err instanceof AllowlistError &&
        err.problems.length === 2 &&
        err.message === `${err.problems[0]}; ${err.problems[1]}` &&
        err.problems[0]!.includes('"nope"') &&
        err.problems[1]!.includes('"::1:22"'),
    );
  });
});

describe('allowlist with resolved addresses', () => {
  it('matches a host name target by the addresses the runtime resolved', () => {
    const list = Allowlist.parse(['10.0.0.0/8:22', '[fd00::/8]:22']);
    assert.equal(list.match('db.internal', 22), undefined);
    assert.deepEqual(list.matchResolved('db.internal', 22, ['192.168.0.1', '10.0.0.7', 'fd00::7', 'not-an-ip']), {
      entry: list.entries[0],
      via: 'resolved-address',
      dialAddresses: ['10.0.0.7', 'fd00::7'],
    });
    assert.equal(list.matchResolved('db.internal', 23, ['10.0.0.7']), undefined);
    assert.equal(list.matchResolved('db.internal', 22, ['192.168.0.1']), undefined);
    assert.equal(list.matchResolved('db.internal', 22, []), undefined);
  });

  it('lets a name match keep every resolved address', () => {
    const list = Allowlist.parse(['db.internal:22']);
    assert.deepEqual(list.matchResolved('db.internal', 22, ['192.168.0.1']), { entry: list.entries[0], via: 'target', dialAddresses: ['192.168.0.1'] });
    const open = Allowlist.parse([]);
    assert.deepEqual(open.matchResolved('db.internal', 22, ['192.168.0.1']), { entry: undefined, via: 'empty-allowlist', dialAddresses: ['192.168.0.1'] });
  });

  it('does not let resolved addresses match host name entries without resolveEntries', async () => {
    const list = Allowlist.parse(['db.internal:22']);
    assert.equal(list.matchResolved('alias.internal', 22, ['10.0.0.7']), undefined);
    assert.equal(await list.check('10.0.0.7', 22), undefined);
  });

  it('ignores resolved addresses for an IP target', () => {
    const list = Allowlist.parse(['10.0.0.5:22']);
    assert.deepEqual(list.matchResolved('10.0.0.5', 22, ['1.1.1.1']), { entry: list.entries[0], via: 'target' });
  });
});

describe('allowlist with resolveEntries', () => {
  function counting(table: Record<string, string[]>): { resolve: (name: string) => Promise<string[]>; calls: string[] } {
    const calls: string[] = [];
    return {
      calls,
      resolve: async (name) => {
        calls.push(name);
        const found = table[name];
        if (!found) throw Object.assign(new Error('ENOTFOUND'), { code: 'ENOTFOUND' });
        return found;
      },
    };
  }

  it('lets an IP target match a host name entry through the entry’s addresses', async () => {
    const dns = counting({ 'db.internal': ['10.0.0.7', 'fd00::7'] });
    const list = Allowlist.parse(['db.internal:5432'], { resolveEntries: { resolve: dns.resolve } });
    assert.deepEqual(await list.check('10.0.0.7', 5432), { entry: list.entries[0], via: 'entry-address', dialAddresses: ['10.0.0.7'] });
    assert.deepEqual(await list.check('fd00:0::7', 5432), { entry: list.entries[0], via: 'entry-address', dialAddresses: ['fd00:0::7'] });
    assert.deepEqual(await list.check('::ffff:10.0.0.7', 5432), { entry: list.entries[0], via: 'entry-address', dialAddresses: ['::ffff:10.0.0.7'] });
    assert.equal(await list.check('10.0.0.8', 5432), undefined);
    assert.equal(await list.check('10.0.0.7', 5433), undefined);
    assert.deepEqual(dns.calls, ['db.internal']);
  });

  it('lets a host name alias match through both resolutions', async () => {
    const dns = counting({ 'db.internal': ['10.0.0.7'] });
    const list = Allowlist.parse(['db.internal:5432'], { resolveEntries: { resolve: dns.resolve } });
    assert.deepEqual(await list.check('db-alias.internal', 5432, ['10.0.0.9', '10.0.0.7']), { entry: list.entries[0], via: 'entry-address', dialAddresses: ['10.0.0.7'] });
    assert.equal(await list.check('db-alias.internal', 5432), undefined);
  });

  it('answers literal matches without DNS', async () => {
    const dns = counting({});
    const list = Allowlist.parse(['10.0.0.0/8:*', 'db.internal:5432'], { resolveEntries: { resolve: dns.resolve } });
    assert.equal((await list.check('10.0.0.7', 5432))?.entry?.text, '10.0.0.0/8:*');
    assert.equal((await list.check('DB.internal', 5432))?.via, 'target');
    assert.deepEqual(dns.calls, []);
  });

  it('caches lookups for the TTL, shares concurrent ones, and does not keep failures', async () => {
    let now = 1_000;
    const dns = counting({ 'db.internal': ['10.0.0.7'] });
    const list = Allowlist.parse(['db.internal:*', 'gone.internal:*'], { resolveEntries: { resolve: dns.resolve, ttlMs: 5_000, now: () => now } });
    await Promise.all([list.check('10.0.0.7', 1), list.check('10.0.0.7', 2), list.check('10.0.0.7', 3)]);
    assert.deepEqual(dns.calls, ['db.internal']);
    now += 4_999;
    await list.check('10.0.0.7', 1);
    assert.deepEqual(dns.calls, ['db.internal']);
    now += 1;
    await list.check('10.0.0.7', 1);
    assert.deepEqual(dns.calls, ['db.internal', 'db.internal']);

    assert.equal(await list.check('10.9.9.9', 1), undefined);
    assert.equal(await list.check('10.9.9.9', 1), undefined);
    assert.deepEqual(dns.calls.filter((n) => n === 'gone.internal'), ['gone.internal', 'gone.internal']);
  });
});
