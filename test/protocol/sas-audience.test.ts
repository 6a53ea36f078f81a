/**
 * Token audiences (`sr`): what the Azure SDKs sign keeps working against the hybridge relay, and
 * audiences that a URL parser would resolve into another entity (or the whole namespace) are refused.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { audienceCovers, audiencePath, createSasToken, normalizeAudience, signSas } from '../../src/protocol/sas-token.js';
import { dotnetUrlEncode } from '../../src/protocol/url-encoding.js';
import { authorize } from '../../src/relay/authorizer.js';
import { FileStoreBackend } from '../../src/relay/file-store-backend.js';
import { emptyNamespace } from '../../src/relay/namespace-model.js';
import { NamespaceStore } from '../../src/relay/namespace-store.js';

const ROOT_KEY = 'sas-audience-root-key-0123456789abcdef';
const NS = 'contoso.servicebus.windows.net';
const root = mkdtempSync(join(tmpdir(), 'hybridge-sas-audience-'));
let store: NamespaceStore;

before(async () => {
  store = new NamespaceStore(new FileStoreBackend(join(root, 'ns')));
  await store.open(() => emptyNamespace(ROOT_KEY));
  for (const name of ['a', 'secret', 'a/b', 'hyco', 'team/app']) await store.ensureHybridConnection(name);
});
after(() => rmSync(root, { recursive: true, force: true }));

const expiry = () => Math.floor(Date.now() / 1000) + 3600;

/** A token whose `sr` is `encodedSr` exactly as written, signed with the namespace's root key. */
function tokenWithRawSr(encodedSr: string): string {
  const se = String(expiry());
  return `SharedAccessSignature sr=${encodedSr}&sig=${encodeURIComponent(signSas(encodedSr, se, ROOT_KEY))}&se=${se}&skn=RootManageSharedAccessKey`;
}

function admitted(token: string, entity: string | undefined): boolean {
  return authorize(store, { token, entity, right: 'Send' }).ok;
}

describe('token audiences the SDKs send are accepted', () => {
  const require = createRequire(import.meta.url);
  const hycoWs = require('hyco-ws') as { createRelayToken(uri: string, keyName: string, key: string): string };
  const hycoHttps = require('hyco-https') as { createRelayToken(uri: string, keyName: string, key: string): string; createRelayHttpsUri(ns: string, path: string): string };

  test('hyco-ws: the listen and connect URIs (port kept, $hc stripped, no trailing slash)', () => {
    for (const uri of [`wss://${NS}:443/$hc/hyco?sb-hc-action=listen`, `wss://${NS}:443/$hc/hyco?sb-hc-action=connect`, `ws://127.0.0.1:9350/$hc/team/app`]) {
      const entity = uri.includes('team/app') ? 'team/app' : 'hyco';
      assert.ok(admitted(hycoWs.createRelayToken(uri, 'RootManageSharedAccessKey', ROOT_KEY), entity), uri);
    }
  });

  test('hyco-https: the listener URI and the HTTPS sender URI', () => {
    assert.ok(admitted(hycoHttps.createRelayToken(`wss://${NS}:443/$hc/hyco?sb-hc-action=listen`, 'RootManageSharedAccessKey', ROOT_KEY), 'hyco'));
    assert.ok(admitted(hycoHttps.createRelayToken(hycoHttps.createRelayHttpsUri(NS, 'hyco'), 'RootManageSharedAccessKey', ROOT_KEY), 'hyco'));
  });

  test('.NET (http scheme, trailing slash, WebUtility.UrlEncode) and hybridge itself', () => {
    assert.ok(admitted(tokenWithRawSr(dotnetUrlEncode(`http://${NS}/hyco/`)), 'hyco'));
    assert.ok(admitted(createSasToken(normalizeAudience(NS, 'team/app'), 'RootManageSharedAccessKey', ROOT_KEY, expiry()), 'team/app'));
    assert.ok(admitted(createSasToken(normalizeAudience(NS, ''), 'RootManageSharedAccessKey', ROOT_KEY, expiry()), undefined), 'a namespace token for management');
  });

  test('Java (sb scheme with the port, and its doubled trailing slash), Python and PHP spellings', () => {
    assert.ok(admitted(tokenWithRawSr(encodeURIComponent(`sb://${NS}/hyco`)), 'hyco'));
    assert.ok(admitted(tokenWithRawSr(encodeURIComponent(`sb://${NS}:9443/hyco//`)), 'hyco'));
    assert.ok(admitted(tokenWithRawSr(encodeURIComponent(`https://${NS}/hyco`)), 'hyco'));
    assert.ok(admitted(tokenWithRawSr(`http%3a%2f%2f${NS}%2fhyco`), 'hyco'), 'lower-case escapes');
    assert.ok(admitted(tokenWithRawSr(encodeURIComponent(`HTTP://${NS.toUpperCase()}/HYCO`)), 'hyco'), 'case does not matter');
  });

  test('a namespace audience covers every entity, a parent covers its children', () => {
    assert.ok(admitted(tokenWithRawSr(encodeURIComponent(`http://${NS}/`)), 'secret'));
    assert.ok(admitted(tokenWithRawSr(encodeURIComponent(`sb://${NS}`)), 'secret'));
    assert.ok(admitted(tokenWithRawSr(encodeURIComponent(`http://${NS}/team`)), 'team/app'));
    assert.equal(admitted(tokenWithRawSr(encodeURIComponent(`http://${NS}/te`)), 'team/app'), false, 'whole segments only');
  });

  test('IPv6 relay hosts are bracketed in the audience hybridge signs', () => {
    assert.equal(normalizeAudience('::1', 'hyco'), 'http://[::1]/hyco/');
    assert.equal(audiencePath(normalizeAudience('::1', 'hyco')), 'hyco');
  });
});

describe('token audiences that would reach another entity are refused', () => {
  test('an sr without a scheme does not cover the namespace', () => {
    for (const sr of ['a', '/a', `${NS}/a`, 'http:a', 'http:/a', 'http:///secret', 'ws://host/a', 'wss://host/a', 'ftp://host/a']) {
      assert.equal(admitted(tokenWithRawSr(encodeURIComponent(sr)), 'secret'), false, `sr=${sr} for "secret"`);
      assert.equal(audienceCovers(sr, 'a'), false, `sr=${sr} for "a"`);
    }
  });

  test('dot segments are refused, not resolved', () => {
    for (const sr of [`http://${NS}/a/../secret`, `http://${NS}/a/%2e%2e/secret`, `http://${NS}/a/.%2E/secret`, `http://${NS}/a/..`, `http://${NS}/./secret`, `http://${NS}/a/%2e/../secret`]) {
      assert.equal(admitted(tokenWithRawSr(encodeURIComponent(sr)), 'secret'), false, sr);
      assert.equal(admitted(tokenWithRawSr(encodeURIComponent(sr)), 'a'), false, sr);
    }
  });

  test('encoded slashes and backslashes are refused', () => {
    for (const sr of [`http://${NS}/a%2fb`, `http://${NS}/a%2Fb`, `http://${NS}/a\\..\\secret`, `http://${NS}\\secret`, `http://${NS}/a%5c..%5csecret`, `http://${NS}/a%5Cb`]) {
      assert.equal(admitted(tokenWithRawSr(encodeURIComponent(sr)), 'secret'), false, sr);
      assert.equal(admitted(tokenWithRawSr(encodeURIComponent(sr)), 'a/b'), false, sr);
    }
  });

  test('user information and malformed escapes are refused', () => {
    assert.equal(audiencePath(`http://user@${NS}/a`), undefined);
    assert.equal(audiencePath(`http://${NS}/a%zz`), undefined);
    assert.equal(audiencePath(`http://${NS}/%E0%A4%A`), undefined);
  });
});
