/**
 * Microsoft Entra ID with a credential object passed in (no cloud): the scope requested is exactly
 * `https://relay.azure.net//.default`, the raw JWT (no "Bearer ") goes in ServiceBusAuthorization
 * for listeners and senders, tokens are cached, and a failing credential gives a clear error that
 * names Microsoft Entra ID from open() and createConnection().
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { AuthorizationFailedError, ENTRA_RELAY_SCOPE, HybridConnectionClient, HybridConnectionListener, RelayError, type TokenCredentialLike } from '../../src/client/index.js';
import { startUpgradeRecorder, type UpgradeRecorder } from './upgrade-recorder.js';

const JWT = 'eyJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJodHRwczovL3JlbGF5LmF6dXJlLm5ldCJ9.c2lnbmF0dXJl';

/** A TokenCredential stand-in that records every getToken() call. */
function fakeCredential(behaviour: 'token' | 'throw' | 'null' = 'token'): TokenCredentialLike & { scopes: (string | string[])[] } {
  const scopes: (string | string[])[] = [];
  return {
    scopes,
    getToken: async (requested: string | string[]) => {
      scopes.push(requested);
      if (behaviour === 'throw') throw new Error('ManagedIdentityCredential: no managed identity endpoint found.\nMore details here');
      if (behaviour === 'null') return null;
      return { token: JWT, expiresOnTimestamp: Date.now() + 3600e3 };
    },
  };
}

function scopeList(requested: string | string[]): string[] {
  return Array.isArray(requested) ? requested : [requested];
}

describe('Microsoft Entra ID', () => {
  let recorder: UpgradeRecorder;
  before(async () => {
    recorder = await startUpgradeRecorder(401, 'Unauthorized');
  });
  after(() => recorder.close());

  it('the scope constant is the .NET one', () => {
    assert.equal(ENTRA_RELAY_SCOPE, 'https://relay.azure.net//.default');
  });

  it('a listener asks for https://relay.azure.net//.default and sends the raw JWT in ServiceBusAuthorization', async () => {
    const credential = fakeCredential();
    const listener = new HybridConnectionListener({ endpoint: recorder.base, entityPath: 'entra', credential });
    const error = await listener.open().catch((err: Error) => err);
    assert.ok(error instanceof AuthorizationFailedError, String(error));
    assert.equal(credential.scopes.length, 1);
    assert.deepEqual(scopeList(credential.scopes[0]!), ['https://relay.azure.net//.default']);
    const seen = recorder.requests.at(-1)!;
    assert.equal(seen.url.split('?')[0], '/$hc/entra');
    assert.equal(seen.headers.servicebusauthorization, JWT);
    assert.ok(seen.rawHeaderNames.includes('ServiceBusAuthorization'));
    assert.equal(seen.headers.authorization, undefined);
  });

  it('a sender does the same, reuses the cached token, and is not retried after 401', async () => {
    const credential = fakeCredential();
    const client = new HybridConnectionClient({ endpoint: recorder.base, entityPath: 'entra', credential });
    const before = recorder.requests.length;
    for (let i = 0; i < 2; i++) {
      const error = await client.createConnection().catch((err: Error) => err);
      assert.ok(error instanceof AuthorizationFailedError, String(error));
    }
    assert.equal(recorder.requests.length - before, 2, 'one attempt per createConnection()');
    for (const seen of recorder.requests.slice(before)) assert.equal(seen.headers.servicebusauthorization, JWT);
    assert.equal(credential.scopes.length, 1, 'the token was cached');
    assert.deepEqual(scopeList(credential.scopes[0]!), [ENTRA_RELAY_SCOPE]);
  });

  it('a credential that throws gives open() and createConnection() an error naming Microsoft Entra ID, without a connection attempt', async () => {
    const before = recorder.requests.length;
    const listener = new HybridConnectionListener({ endpoint: recorder.base, entityPath: 'entra', credential: fakeCredential('throw') });
    const openError = await listener.open().catch((err: Error) => err);
    assert.ok(openError instanceof Error);
    assert.match(openError.message, /Microsoft Entra ID/);
    assert.match(openError.message, /no managed identity endpoint found/);
    assert.doesNotMatch(openError.message, /More details/, 'one line');

    const started = Date.now();
    const client = new HybridConnectionClient({ endpoint: recorder.base, entityPath: 'entra', credential: fakeCredential('throw') });
    const connectError = await client.createConnection().catch((err: Error) => err);
    assert.ok(connectError instanceof RelayError, String(connectError));
    assert.match(connectError.message, /Microsoft Entra ID/);
    assert.ok(Date.now() - started < 2000, 'not retried for the whole budget');
    assert.equal(recorder.requests.length, before, 'nothing was sent without a token');
  });

  it('a credential that returns no token is an error naming Microsoft Entra ID too', async () => {
    const client = new HybridConnectionClient({ endpoint: recorder.base, entityPath: 'entra', credential: fakeCredential('null') });
    const error = await client.createConnection().catch((err: Error) => err);
    assert.match(String(error), /Microsoft Entra ID token: the credential returned none/);
  });
});
