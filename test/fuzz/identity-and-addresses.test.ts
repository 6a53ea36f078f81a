/**
 * Fuzz targets: SAS tokens and audiences (src/protocol/sas-token.ts), connection strings
 * (connection-string.ts), relay endpoints and hybrid connection URLs (relay-endpoint.ts), the relay's
 * request URL parsing (src/relay/request-url.ts) and the listener allowlist (src/tunnel/allowlist.ts).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConnectionStringError, formatConnectionString, parseConnectionString, parseTimeSpan } from '../../src/protocol/connection-string.js';
import { buildHttpUrl, buildHybridConnectionUrl, EndpointError, formatEndpoint, isValidEntityPath, parseRelayEndpoint, type RelayEndpoint } from '../../src/protocol/relay-endpoint.js';
import { audienceCovers, audiencePath, createSasToken, parseSasToken, SasTokenError, verifySasSignature } from '../../src/protocol/sas-token.js';
import type { IncomingMessage } from 'node:http';
import { decodePath, listenerIdFromTracking, parseHcGesture, parseRelayedTarget, rawHeaderMap, rawSuffixAfter, splitQuery } from '../../src/relay/request-url.js';
import { Allowlist, AllowlistError, parseAllowEntry } from '../../src/tunnel/allowlist.js';
import { fc, fuzz, onlyThrows, text, trickyKeys } from './fuzz-kit.js';

const segment = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._-]{0,11}$/).filter((s) => s !== '.' && s !== '..');
const entityPath = fc.array(segment, { minLength: 1, maxLength: 3 }).map((s) => s.join('/'));
const host = fc.oneof(fc.domain(), fc.ipV4(), fc.ipV6());
/** Hosts as a URL parser writes them (IPv6 compressed), which is how endpoints come back. */
const canonicalHost = host.map((h) => (h.includes(':') ? new URL(`http://[${h}]/`).hostname.slice(1, -1) : h.toLowerCase()));
const endpoint: fc.Arbitrary<RelayEndpoint> = fc.record({ secure: fc.boolean(), host: canonicalHost, port: fc.integer({ min: 1, max: 65535 }) }, { noNullPrototype: true });
const tokenish = fc.oneof(
  text,
  fc.tuple(fc.constantFrom('SharedAccessSignature ', 'sharedaccesssignature\t', 'Bearer ', ''), fc.array(fc.tuple(fc.constantFrom('sr', 'sig', 'se', 'skn', 'SR', 'x', ''), text), { maxLength: 6 })).map(([scheme, fields]) => scheme + fields.map(([k, v]) => `${k}=${v}`).join('&')),
);

describe('fuzz: SAS tokens and audiences', () => {
  it('any text: parseSasToken answers a token or SasTokenError; audience checks never throw', () => {
    fuzz(tokenish, (value) => {
      const token = onlyThrows(() => parseSasToken(value), SasTokenError);
      if (token) {
        assert.ok(Number.isSafeInteger(token.expiresAt));
        onlyThrows(() => verifySasSignature(token, 'key'));
      }
    });
    fuzz(fc.tuple(fc.oneof(text, fc.webUrl(), fc.tuple(fc.constantFrom('http://', 'sb://', 'https://', 'ws://', ''), text).map(([s, t]) => s + t)), fc.oneof(entityPath, text)), ([resource, entity]) => {
      const path = onlyThrows(() => audiencePath(resource));
      onlyThrows(() => audienceCovers(resource, entity));
      if (path !== undefined) assert.doesNotMatch(`/${path}/`, /\/\.\.?\//, 'a dot segment never survives');
    });
  });

  it('createSasToken then parseSasToken gives back the audience, key name and expiry, and the signature verifies', () => {
    fuzz(fc.record({ audience: fc.oneof(fc.webUrl(), text).filter((a) => a.length > 0), keyName: fc.string({ minLength: 1, maxLength: 40 }), key: fc.string({ minLength: 1, maxLength: 60 }), expiry: fc.integer({ min: 0, max: 2 ** 40 }) }), (t) => {
      const token = parseSasToken(createSasToken(t.audience, t.keyName, t.key, t.expiry));
      assert.equal(token.resource, Buffer.from(t.audience, 'utf8').toString('utf8'));
      assert.equal(token.keyName, Buffer.from(t.keyName, 'utf8').toString('utf8'));
      assert.equal(token.expiresAt, t.expiry);
      assert.ok(verifySasSignature(token, t.key));
    });
  });
});

describe('fuzz: connection strings and endpoints', () => {
  const pair = fc.tuple(fc.constantFrom('Endpoint', 'EntityPath', 'SharedAccessKeyName', 'SharedAccessKey', 'SharedAccessSignature', 'OperationTimeout', 'Authentication', 'endpoint', 'x', ''), fc.oneof(text, fc.webUrl(), fc.constantFrom('sb://ns.example/', 'Managed Identity', '00:01:00', '99999999999999999999', '1.02:03:04.5')));
  it('any text: parseConnectionString answers a connection string or ConnectionStringError; parseTimeSpan a sane number of ms', () => {
    fuzz(fc.oneof(text, fc.array(pair, { maxLength: 6 }).map((pairs) => pairs.map(([k, v]) => `${k}=${v}`).join(';'))), (value) => {
      const cs = onlyThrows(() => parseConnectionString(value), ConnectionStringError);
      if (cs?.operationTimeoutMs !== undefined) assert.ok(cs.operationTimeoutMs >= 0 && cs.operationTimeoutMs <= 2 ** 31 - 1, `OperationTimeout ${cs.operationTimeoutMs} ms cannot be a timer`);
    });
    fuzz(fc.oneof(text, fc.stringMatching(/^(\d{1,20}\.)?\d{1,2}:\d{1,2}(:\d{1,2}(\.\d{1,7})?)?$/), fc.stringMatching(/^\d{1,25}$/)), (value) => {
      const ms = onlyThrows(() => parseTimeSpan(value), ConnectionStringError);
      if (ms !== undefined) assert.ok(Number.isSafeInteger(ms) && ms >= 0 && ms <= 2 ** 31 - 1, `${value} gave ${ms} ms`);
    });
  });

  it('formatConnectionString then parseConnectionString gives the same connection string', () => {
    fuzz(fc.record({ endpoint, entityPath: fc.option(entityPath, { nil: undefined }), keyName: fc.stringMatching(/^[A-Za-z0-9_-]{1,20}$/), key: fc.base64String({ minLength: 4, maxLength: 44 }).filter((k) => k.length > 0), timeout: fc.option(fc.integer({ min: 0, max: 20 * 86_400 }).map((s) => s * 1000), { nil: undefined }) }), (c) => {
      const cs = { endpoint: c.endpoint, sharedAccessKeyName: c.keyName, sharedAccessKey: c.key, ...(c.entityPath && { entityPath: c.entityPath }), ...(c.timeout !== undefined && { operationTimeoutMs: c.timeout }) };
      const parsed = parseConnectionString(formatConnectionString(cs));
      assert.deepEqual(parsed, cs);
    });
  });

  it('any text: parseRelayEndpoint answers an endpoint or EndpointError; formatEndpoint round trips', () => {
    fuzz(fc.oneof(text, fc.webUrl(), fc.domain(), fc.tuple(fc.constantFrom('sb://', 'wss://', 'ws://', 'http://', 'https://', 'ftp://'), text).map(([s, t]) => s + t)), (value) => {
      const parsed = onlyThrows(() => parseRelayEndpoint(value), EndpointError);
      if (parsed) assert.ok(Number.isInteger(parsed.port) && parsed.port >= 0 && parsed.port <= 65535 && parsed.host.length > 0);
      isValidEntityPath(value);
    });
    fuzz(endpoint, (e) => {
      const parsed = parseRelayEndpoint(formatEndpoint(e));
      assert.deepEqual(parsed, e, formatEndpoint(e));
    });
  });
});

describe('fuzz: relay request URLs', () => {
  it('any request target: the parse functions never throw', () => {
    fuzz(fc.oneof(text, fc.webPath(), fc.tuple(fc.constantFrom('/$hc/', '/%24hc/', '/'), text, fc.constantFrom('?', '?sb-hc-action=listen&', ''), text).map((p) => p.join(''))), (url) => {
      onlyThrows(() => parseHcGesture(url));
      onlyThrows(() => parseRelayedTarget(url));
      onlyThrows(() => splitQuery(url));
      onlyThrows(() => decodePath(url));
      onlyThrows(() => rawSuffixAfter(url, 1));
      onlyThrows(() => listenerIdFromTracking(url));
    });
  });

  it('raw request headers become a map that keeps every header by its first spelling, duplicates joined', () => {
    const name = fc.oneof(fc.stringMatching(/^[A-Za-z0-9-]{1,8}$/), trickyKeys, trickyKeys.map((k) => k.toUpperCase()));
    fuzz(fc.array(fc.tuple(name, fc.string({ maxLength: 10 })), { maxLength: 8 }), (pairs) => {
      const map = rawHeaderMap({ rawHeaders: pairs.flat() } as unknown as IncomingMessage);
      const expected = new Map<string, [string, string[]]>();
      for (const [n, v] of pairs) {
        const known = expected.get(n.toLowerCase());
        if (known) known[1].push(v);
        else expected.set(n.toLowerCase(), [n, [v]]);
      }
      // Sorted: objects list integer-like keys ("0") first, whatever the order they were added in.
      const sorted = (entries: [string, string][]) => entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
      assert.deepEqual(sorted(Object.entries(map)), sorted([...expected.values()].map(([n, values]) => [n, values.join(', ')])));
    });
  });

  it('URLs built by the client parse back to their path, action, id, token and application query', () => {
    const value = fc.string({ minLength: 1, maxLength: 20 });
    fuzz(fc.record({ endpoint, path: entityPath, action: fc.constantFrom('listen', 'connect', 'accept', 'request') as fc.Arbitrary<'listen'>, id: value, token: value, query: fc.option(fc.stringMatching(/^[a-z]{1,5}=[a-z0-9]{0,5}(&[a-z]{1,5}=[a-z0-9]{0,5}){0,2}$/), { nil: undefined }) }), (u) => {
      const url = new URL(buildHybridConnectionUrl(u.endpoint, u.path, u.action, { trackingId: u.id, token: u.token, ...(u.query && { query: u.query }) }));
      const gesture = parseHcGesture(url.pathname + url.search);
      assert.ok(gesture);
      assert.equal(gesture.path, u.path);
      assert.equal(gesture.action, u.action);
      assert.equal(gesture.id, u.id);
      assert.equal(gesture.token, u.token);
      assert.equal(gesture.appQuery, u.query ?? '');
      const target = parseRelayedTarget(new URL(buildHttpUrl(u.endpoint, u.path, 'x/y')).pathname);
      assert.equal(target?.path, `${u.path}/x/y`);
    });
  });
});

const allowEntry = fc.oneof(
  text,
  fc.tuple(fc.oneof(fc.domain(), fc.ipV4(), fc.ipV6().map((a) => `[${a}]`), fc.constantFrom('*', '10.0.0.0/8', '[fd00::/8]', '[::1]', 'a..b', '[::ffff:1.2.3.4]/96'), text), fc.oneof(fc.integer({ min: -1, max: 70000 }).map(String), fc.constantFrom('*', '8000-8100', '9-1', ''))).map(([h, p]) => `${h}:${p}`),
);

describe('fuzz: allowlist', () => {
  it('any entry: parseAllowEntry answers an entry or AllowlistError; matching any target never throws', () => {
    fuzz(fc.tuple(fc.array(allowEntry, { maxLength: 4 }), fc.oneof(host, text), fc.integer({ min: 0, max: 65535 }), fc.array(fc.oneof(host, text), { maxLength: 3 })), ([entries, target, port, resolved]) => {
      for (const entry of entries) onlyThrows(() => parseAllowEntry(entry), AllowlistError);
      const list = onlyThrows(() => Allowlist.parse(entries), AllowlistError);
      if (!list) return;
      onlyThrows(() => list.match(target, port));
      onlyThrows(() => list.matchResolved(target, port, resolved));
    });
  });
});
