import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encodePortList, listenerIdInReason, MAX_ANNOUNCED_PORTS, parsePortList, parsePortName, PortAnnouncementError, resolvePortName, withListenerId, withoutListenerId } from '../../src/protocol/port-announcement.js';
import { portEligible } from '../../src/relay/port-routing.js';

describe('port announcements (Hybridge-Ports / Hybridge-Port)', () => {
  it('round-trips any UTF-8 name, commas and spaces included; empty means "no ports"', () => {
    const names = ['sql', 'a,b', 'größe', 'with space', '3389'];
    assert.deepEqual(parsePortList(encodePortList(names)), names);
    assert.match(encodePortList(names), /^[\x21-\x7e]*$/, 'a header-safe value');
    assert.deepEqual(parsePortList(''), []);
  });

  it('refuses malformed escapes, empty and over-long names, and too many names', () => {
    assert.throws(() => parsePortName('%E0%A4%A'), PortAnnouncementError);
    assert.throws(() => parsePortList('a,,b'), PortAnnouncementError);
    assert.throws(() => parsePortName('x'.repeat(256)), PortAnnouncementError);
    assert.throws(() => parsePortList(Array.from({ length: MAX_ANNOUNCED_PORTS + 1 }, (_, i) => `p${i}`).join(',')), PortAnnouncementError);
  });

  it('matches as azbridge does: exact and case-sensitive, or a number for a single port', () => {
    assert.equal(resolvePortName(['sql', 'files'], 'sql'), 'sql');
    assert.equal(resolvePortName(['sql', 'files'], 'SQL'), undefined);
    assert.equal(resolvePortName(['rdp'], '13389'), 'rdp');
    assert.equal(resolvePortName(['rdp', 'ssh'], '13389'), undefined);
  });

  it('puts the listener id in front of a refusal and reads it back; other reasons carry none', () => {
    const tagged = withListenerId('no port named "x" on relay r', '1b2c3d4e-aaaa-bbbb-cccc-0123456789ab');
    assert.equal(listenerIdInReason(tagged), '1b2c3d4e-aaaa-bbbb-cccc-0123456789ab');
    assert.equal(withoutListenerId(tagged), 'no port named "x" on relay r');
    assert.equal(listenerIdInReason('no port named "x" on relay r'), undefined);
    assert.equal(withListenerId('r', 'bad id with spaces'), 'r');
  });

  it('routing tiers: serving, then unannounced, then other ports; no port named means any listener', () => {
    const want = (tier: 'serving' | 'unannounced' | 'other') => ({ name: 'sql', tier });
    assert.equal(portEligible(['sql'], want('serving')), true);
    assert.equal(portEligible(['files'], want('serving')), false);
    assert.equal(portEligible(undefined, want('serving')), false);
    assert.equal(portEligible(undefined, want('unannounced')), true);
    assert.equal(portEligible(['sql'], want('unannounced')), false);
    assert.equal(portEligible(['files'], want('other')), true);
    assert.equal(portEligible(['sql'], want('other')), false);
    assert.equal(portEligible(undefined, want('other')), false);
    assert.equal(portEligible(['files'], undefined), true);
  });
});
