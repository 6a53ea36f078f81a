import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  addressValue,
  ALLOW_ALL,
  CompiledRuleSet,
  IpRuleError,
  MAX_IP_RULES,
  normalizeRuleSet,
  parseIpAction,
  parseIpMask,
  withIpRule,
  withoutIpRule,
  type IpRule,
  type NetworkRuleSet,
} from '../../src/relay/ip-rules.js';

const set = (defaultAction: 'Allow' | 'Deny', ...rules: [string, 'Allow' | 'Deny'][]): NetworkRuleSet => ({
  defaultAction,
  ipRules: rules.map(([ipMask, action]): IpRule => ({ ipMask, action })),
});
const decide = (rules: NetworkRuleSet, address: string) => new CompiledRuleSet(rules).decide(address);
const rejects = (fn: () => unknown, pattern: RegExp, status = 400) =>
  assert.throws(fn, (err: unknown) => err instanceof IpRuleError && pattern.test(err.message) && err.status === status);

describe('IP rules: parsing masks', () => {
  test('addresses and networks come back in one canonical spelling', () => {
    assert.equal(parseIpMask('10.1.2.3').text, '10.1.2.3');
    assert.equal(parseIpMask(' 10.1.2.3/32 ').text, '10.1.2.3');
    assert.equal(parseIpMask('10.1.2.3/8').text, '10.0.0.0/8', 'host bits are cleared');
    assert.equal(parseIpMask('0.0.0.0/0').text, '0.0.0.0/0');
    assert.equal(parseIpMask('2001:DB8:0:0::1').text, '2001:db8::1');
    assert.equal(parseIpMask('2001:db8::ff/32').text, '2001:db8::/32');
    assert.equal(parseIpMask('::/0').text, '::/0');
    assert.equal(parseIpMask('::ffff:10.9.8.7').text, '10.9.8.7', 'an IPv4-mapped address is the IPv4 address');
    assert.equal(parseIpMask('::ffff:10.0.0.0/104').text, '10.0.0.0/8');
    assert.equal(parseIpMask('::ffff:0:0/96').text, '0.0.0.0/0');
    assert.equal(parseIpMask('::ffff:0:0/95').text, '::fffe:0:0/95', 'shorter than /96 it is an IPv6 network');
  });

  test('bad masks are refused with a reason', () => {
    rejects(() => parseIpMask(''), /empty/);
    rejects(() => parseIpMask('   '), /empty/);
    rejects(() => parseIpMask(42), /must be a string/);
    rejects(() => parseIpMask('10.0.0.0/33'), /prefix length must be a number from 0 to 32/);
    rejects(() => parseIpMask('2001:db8::/129'), /from 0 to 128/);
    rejects(() => parseIpMask('10.0.0.0/'), /prefix length/);
    rejects(() => parseIpMask('10.0.0.0/-1'), /prefix length/);
    rejects(() => parseIpMask('10.0.0.0/8/8'), /prefix length/);
    rejects(() => parseIpMask('10.0.0.0/ 8'), /prefix length/);
    rejects(() => parseIpMask('10.0.0.0/0x8'), /prefix length/);
    rejects(() => parseIpMask('256.1.1.1'), /not an IP address or network/);
    rejects(() => parseIpMask('10.1.2'), /not an IP address or network/);
    rejects(() => parseIpMask('example.com'), /not an IP address or network/);
    rejects(() => parseIpMask('fe80::1%eth0'), /zone/);
    rejects(() => parseIpMask('1'.repeat(65)), /too long/);
  });

  test('actions are Allow or Deny in any case', () => {
    assert.equal(parseIpAction('allow'), 'Allow');
    assert.equal(parseIpAction(' DENY '), 'Deny');
    rejects(() => parseIpAction('Accept'), /action must be Allow or Deny, not "Accept"/);
    rejects(() => parseIpAction(undefined, 'defaultAction'), /^defaultAction must be Allow or Deny$/);
  });

  test('client addresses as sockets report them', () => {
    assert.equal(addressValue('127.0.0.2'), addressValue('::ffff:127.0.0.2'));
    assert.equal(addressValue('fe80::1%eth0'), addressValue('fe80::1'));
    assert.equal(addressValue('::1'), 1n);
    assert.equal(addressValue('ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff'), (1n << 128n) - 1n);
    assert.equal(addressValue('not an address'), undefined);
    assert.equal(addressValue(''), undefined);
  });
});

describe('IP rules: decisions', () => {
  test('the first matching rule decides, then the default action', () => {
    const rules = set('Deny', ['10.6.6.0/24', 'Deny'], ['10.0.0.0/8', 'Allow'], ['10.6.6.7', 'Allow']);
    assert.deepEqual(decide(rules, '10.1.2.3'), { allowed: true, rule: 2 });
    assert.deepEqual(decide(rules, '10.6.6.7'), { allowed: false, rule: 1 }, 'an earlier Deny beats a later, narrower Allow');
    assert.deepEqual(decide(rules, '11.0.0.1'), { allowed: false, rule: 'default' });
    assert.deepEqual(decide(set('Allow', ['10.0.0.0/8', 'Deny']), '192.168.1.1'), { allowed: true, rule: 'default' });
  });

  test('network edges: first and last address in, neighbours out', () => {
    const rules = set('Deny', ['192.168.4.0/22', 'Allow'], ['2001:db8:ff00::/40', 'Allow']);
    for (const inside of ['192.168.4.0', '192.168.7.255', '2001:db8:ff00::', '2001:db8:ffff:ffff:ffff:ffff:ffff:ffff']) assert.equal(decide(rules, inside).allowed, true, inside);
    for (const outside of ['192.168.3.255', '192.168.8.0', '2001:db8:feff:ffff:ffff:ffff:ffff:ffff', '2001:db9::']) assert.equal(decide(rules, outside).allowed, false, outside);
  });

  test('/0 and full-length prefixes', () => {
    assert.equal(decide(set('Deny', ['0.0.0.0/0', 'Allow']), '255.255.255.255').allowed, true);
    assert.equal(decide(set('Deny', ['0.0.0.0/0', 'Allow']), '::1').allowed, false, '0.0.0.0/0 is every IPv4 client, not IPv6 ones');
    assert.equal(decide(set('Deny', ['::/0', 'Allow']), '10.1.2.3').allowed, true, '::/0 is every client, IPv4 ones included (as IPv4-mapped)');
    assert.equal(decide(set('Deny', ['10.1.2.3', 'Allow']), '10.1.2.4').allowed, false);
    assert.equal(decide(set('Deny', ['::1', 'Allow']), '::1').allowed, true);
    assert.equal(decide(set('Deny', ['::1', 'Allow']), '::2').allowed, false);
  });

  test('IPv4-mapped IPv6 clients (dual-stack sockets) match IPv4 rules, and mapped rules match IPv4 clients', () => {
    assert.deepEqual(decide(set('Deny', ['127.0.0.0/8', 'Allow']), '::ffff:127.0.0.2'), { allowed: true, rule: 1 });
    assert.deepEqual(decide(set('Deny', ['::ffff:127.0.0.0/104', 'Allow']), '127.0.0.2'), { allowed: true, rule: 1 });
    assert.equal(decide(set('Deny', ['127.0.0.0/8', 'Allow']), '::127.0.0.2').allowed, false, 'an IPv4-compatible address is not mapped');
  });

  test('with no rules and Allow every address passes; an address that does not parse is refused whenever rules exist', () => {
    assert.equal(new CompiledRuleSet(ALLOW_ALL).allowsAll, true);
    assert.equal(new CompiledRuleSet(ALLOW_ALL).decide(undefined).allowed, true);
    assert.equal(decide(set('Allow', ['10.0.0.0/8', 'Deny']), 'garbage').allowed, false);
    assert.equal(new CompiledRuleSet(set('Allow', ['10.0.0.0/8', 'Deny'])).decide(undefined).allowed, false);
  });

  test('a stored rule set that does not parse refuses everyone (fails closed)', () => {
    const broken = new CompiledRuleSet({ defaultAction: 'Allow', ipRules: [{ ipMask: '10.0.0.0/99', action: 'Allow' }] });
    assert.equal(broken.decide('10.1.1.1').allowed, false);
    assert.equal(new CompiledRuleSet({ defaultAction: 'Sometimes' as 'Allow', ipRules: [] }).decide('10.1.1.1').allowed, false);
  });
});

describe('IP rules: changing a set', () => {
  test('add appends or inserts at a position; remove takes any spelling of the network', () => {
    let rules = withIpRule(ALLOW_ALL, '10.0.0.0/8', 'allow');
    rules = withIpRule(rules, '10.6.6.1/24', 'Deny', 1);
    rules = withIpRule(rules, '2001:db8::/32', undefined);
    assert.deepEqual(rules.ipRules, [
      { ipMask: '10.6.6.0/24', action: 'Deny' },
      { ipMask: '10.0.0.0/8', action: 'Allow' },
      { ipMask: '2001:db8::/32', action: 'Allow' },
    ]);
    assert.deepEqual(ALLOW_ALL.ipRules, [], 'the original is not changed');
    rules = withoutIpRule(rules, '::ffff:10.0.0.0/104');
    assert.deepEqual(rules.ipRules.map((r) => r.ipMask), ['10.6.6.0/24', '2001:db8::/32']);
  });

  test('duplicates, missing rules, bad positions and too many rules are refused', () => {
    const one = withIpRule(ALLOW_ALL, '10.0.0.0/8', 'Allow');
    rejects(() => withIpRule(one, '10.1.0.0/8', 'Deny'), /already exists/, 409);
    rejects(() => withoutIpRule(one, '10.0.0.1'), /no IP rule for 10\.0\.0\.1/, 404);
    rejects(() => withIpRule(one, '11.0.0.0/8', 'Allow', 3), /position must be a whole number from 1 to 2/);
    rejects(() => withIpRule(one, '11.0.0.0/8', 'Allow', 0), /position/);
    rejects(() => withIpRule(one, '11.0.0.0/8', 'Allow', 1.5), /position/);
    rejects(() => withIpRule(one, '11.0.0.0/8', 'Allow', '1'), /position/);
    let full: NetworkRuleSet = ALLOW_ALL;
    for (let i = 0; i < MAX_IP_RULES; i++) full = withIpRule(full, `10.0.${i}.0/24`, 'Allow');
    rejects(() => withIpRule(full, '11.0.0.0/8', 'Allow'), new RegExp(`at most ${MAX_IP_RULES} IP rules`), 409);
  });

  test('a whole set is checked and normalised', () => {
    assert.deepEqual(normalizeRuleSet({ defaultAction: 'deny', ipRules: [{ ipMask: '10.1.2.3/8' }] }), { defaultAction: 'Deny', ipRules: [{ ipMask: '10.0.0.0/8', action: 'Allow' }] });
    rejects(() => normalizeRuleSet({ defaultAction: 'Deny', ipRules: 'all' }), /ipRules must be a list/);
    rejects(() => normalizeRuleSet({ defaultAction: 'Deny', ipRules: [null] }), /must be an object/);
    rejects(() => normalizeRuleSet({ defaultAction: 'Deny', ipRules: [{ ipMask: '10.0.0.0/8' }, { ipMask: '10.0.0.1/8' }] }), /appears twice/);
    rejects(() => normalizeRuleSet({ defaultAction: 'Deny', ipRules: Array.from({ length: MAX_IP_RULES + 1 }, (_, i) => ({ ipMask: `10.0.${i}.0/24` })) }), /at most 128/);
  });
});
