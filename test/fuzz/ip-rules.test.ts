/**
 * Fuzz targets: the client IP rules (src/relay/ip-rules.ts). Decisions are compared with two
 * references built differently: Node's BlockList (one per rule, first match wins) for every
 * family, and a bit-string prefix comparison for IPv4.
 */
import assert from 'node:assert/strict';
import { BlockList, isIP } from 'node:net';
import { describe, it } from 'node:test';
import { CompiledRuleSet, IpRuleError, parseIpMask, type IpAction } from '../../src/relay/ip-rules.js';
import { fc, fuzz, onlyThrows, text } from './fuzz-kit.js';

// Small address spaces, so that rules and clients overlap often.
const v4 = fc.tuple(fc.constantFrom(10, 192), fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 255 })).map((o) => o.join('.'));
const v6 = fc
  .tuple(fc.constantFrom('2001:db8', 'fd00', '::ffff'), fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 0xffff }))
  .map(([head, a, b]) => (head === '::ffff' ? `::ffff:${a.toString(16)}:${b.toString(16)}` : `${head}::${a.toString(16)}:${b.toString(16)}`));
const mapped = v4.map((a) => `::ffff:${a}`);
const address = fc.oneof(v4, v6, mapped);
const action = fc.constantFrom<IpAction>('Allow', 'Deny');

interface RuleInput {
  base: string;
  prefix: number | undefined;
  action: IpAction;
}
const rule: fc.Arbitrary<RuleInput> = address.chain((base) => {
  const max = isIP(base) === 4 ? 32 : 128;
  return fc.record({ base: fc.constant(base), prefix: fc.option(fc.integer({ min: 0, max }), { nil: undefined }), action }, { noNullPrototype: true });
});
const maskOf = (r: RuleInput) => (r.prefix === undefined ? r.base : `${r.base}/${r.prefix}`);

/** First match over one BlockList per rule (Node maps IPv4 into IPv6 the same way). */
function blockListDecision(rules: RuleInput[], defaultAction: IpAction, client: string): boolean {
  const family = (a: string) => (isIP(a) === 4 ? 'ipv4' : 'ipv6');
  for (const r of rules) {
    const list = new BlockList();
    if (r.prefix === undefined) list.addAddress(r.base, family(r.base));
    else list.addSubnet(r.base, r.prefix, family(r.base));
    if (list.check(client, family(client))) return r.action === 'Allow';
  }
  return defaultAction === 'Allow';
}

const bits32 = (a: string) =>
  a
    .split('.')
    .map((o) => Number(o).toString(2).padStart(8, '0'))
    .join('');

/** IPv4 only: a rule matches when the first `prefix` bits are equal. */
function bitStringDecision(rules: RuleInput[], defaultAction: IpAction, client: string): boolean {
  for (const r of rules) {
    const prefix = r.prefix ?? 32;
    if (bits32(r.base).slice(0, prefix) === bits32(client).slice(0, prefix)) return r.action === 'Allow';
  }
  return defaultAction === 'Allow';
}

/** Distinct networks only: a rule set never holds the same network twice. */
function distinct(rules: RuleInput[]): RuleInput[] {
  const seen = new Set<string>();
  return rules.filter((r) => {
    const key = parseIpMask(maskOf(r)).text;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

describe('fuzz: client IP rules', () => {
  it('decisions equal first match over BlockList, for IPv4, IPv6 and IPv4-mapped rules and clients', () => {
    fuzz(fc.tuple(fc.array(rule, { maxLength: 8 }), action, fc.array(address, { minLength: 1, maxLength: 8 })), ([raw, defaultAction, clients]) => {
      const rules = distinct(raw);
      const compiled = new CompiledRuleSet({ defaultAction, ipRules: rules.map((r) => ({ ipMask: maskOf(r), action: r.action })) });
      for (const client of clients) assert.equal(compiled.decide(client).allowed, blockListDecision(rules, defaultAction, client), client);
    });
  });

  it('IPv4 decisions equal a bit-string prefix comparison, and name the deciding rule', () => {
    const v4rule = fc.record({ base: v4, prefix: fc.option(fc.integer({ min: 0, max: 32 }), { nil: undefined }), action }, { noNullPrototype: true });
    fuzz(fc.tuple(fc.array(v4rule, { maxLength: 8 }), action, v4), ([raw, defaultAction, client]) => {
      const rules = distinct(raw);
      const decision = new CompiledRuleSet({ defaultAction, ipRules: rules.map((r) => ({ ipMask: maskOf(r), action: r.action })) }).decide(client);
      assert.equal(decision.allowed, bitStringDecision(rules, defaultAction, client));
      if (decision.rule !== 'default') {
        const decider = rules[decision.rule - 1]!;
        const prefix = decider.prefix ?? 32;
        assert.equal(bits32(decider.base).slice(0, prefix), bits32(client).slice(0, prefix), 'the named rule matches');
      }
    });
  });

  it('any text: parseIpMask answers a network or IpRuleError; the canonical form parses to itself', () => {
    fuzz(fc.oneof(text, address, fc.tuple(address, fc.oneof(fc.integer({ min: -2, max: 200 }).map(String), text)).map(([a, p]) => `${a}/${p}`)), (value) => {
      const parsed = onlyThrows(() => parseIpMask(value), IpRuleError);
      if (parsed) {
        const again = parseIpMask(parsed.text);
        assert.equal(again.text, parsed.text);
        assert.equal(again.network, parsed.network);
        assert.equal(again.prefix, parsed.prefix);
      }
    });
  });

  it('any text as a client address: a decision, never an exception', () => {
    const compiled = new CompiledRuleSet({ defaultAction: 'Deny', ipRules: [{ ipMask: '10.0.0.0/8', action: 'Allow' }, { ipMask: '::/0', action: 'Deny' }] });
    fuzz(fc.oneof(text, address), (value) => {
      const decision = compiled.decide(value);
      assert.equal(typeof decision.allowed, 'boolean');
    });
  });
});
