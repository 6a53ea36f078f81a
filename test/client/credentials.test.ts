/**
 * Addresses and credentials: connection strings (every key, unknown keys, the signature and
 * Managed Identity forms), endpoint schemes, endpoint + key name/key, a pre-issued signature, an
 * anonymous sender; and SAS tokens and URLs built byte for byte as the .NET SDK builds them,
 * checked against a hand-computed HMAC on what actually went over the wire.
 */
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import {
  AuthorizationFailedError,
  EntraTokenProvider,
  HybridConnectionClient,
  HybridConnectionListener,
  resolveConnection,
  SasKeyTokenProvider,
  SharedAccessSignatureTokenProvider,
  type TokenProvider,
} from '../../src/client/index.js';
import { createSasToken } from '../../src/protocol/sas-token.js';
import { patternBytes, sha256 } from '../helpers/data.js';
import { ROOT_KEY, ROOT_RULE, startRelay, type TestRelay } from '../helpers/relay.js';
import { assertDelivered, Cleanup, digestOf, listenerFor, nextConnection, writeAll } from './fixtures.js';
import { startUpgradeRecorder, type UpgradeRecorder } from './upgrade-recorder.js';

/** .NET's WebUtility.UrlEncode, written out by hand: A-Z a-z 0-9 - _ . ! * ( ) stay, space is '+'. */
function webUtilityUrlEncode(text: string): string {
  return [...Buffer.from(text, 'utf8')]
    .map((b) => {
      const c = String.fromCharCode(b);
      if (/[A-Za-z0-9\-_.!*()]/.test(c)) return c;
      if (c === ' ') return '+';
      return '%' + b.toString(16).toUpperCase().padStart(2, '0');
    })
    .join('');
}

/** The token .NET's SharedAccessSignatureBuilder makes for `audience`, key name and key, expiring at `se`. */
function dotnetToken(audience: string, keyName: string, key: string, se: number): string {
  const sr = webUtilityUrlEncode(audience);
  const sig = createHmac('sha256', Buffer.from(key, 'utf8')).update(`${sr}\n${se}`, 'utf8').digest('base64');
  return `SharedAccessSignature sr=${sr}&sig=${webUtilityUrlEncode(sig)}&se=${se}&skn=${webUtilityUrlEncode(keyName)}`;
}

describe('connection strings and endpoints', () => {
  it('reads every key (case-insensitive), with the .NET audience and the default port', () => {
    const c = resolveConnection({
      connectionString: 'endpoint=sb://Contoso.servicebus.windows.net/;SHAREDACCESSKEYNAME=send;SharedAccessKey=abc=;EntityPath=orders/eu;OperationTimeout=00:00:30',
    });
    assert.deepEqual(c.endpoint, { secure: true, host: 'contoso.servicebus.windows.net', port: 443 });
    assert.equal(c.entityPath, 'orders/eu');
    assert.equal(c.operationTimeoutMs, 30_000);
    assert.equal(c.audience, 'http://contoso.servicebus.windows.net/orders/eu/');
    assert.ok(c.tokenProvider instanceof SasKeyTokenProvider);
  });

  it('rejects an unknown key, naming the key but never a value', () => {
    assert.throws(
      () => resolveConnection({ connectionString: 'Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=k;SharedAccessKey=SECRETVALUE;EntityPath=x;TransportType=Amqp' }),
      (err: Error) => /unknown connection string key "TransportType"/.test(err.message) && !err.message.includes('SECRETVALUE'),
    );
  });

  it('rejects incomplete or contradictory credentials and a missing entity', () => {
    assert.throws(() => resolveConnection({ connectionString: 'Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=k;EntityPath=x' }), /must be given together/);
    assert.throws(() => resolveConnection({ connectionString: 'Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=k;SharedAccessKey=v;SharedAccessSignature=SharedAccessSignature sr=a&sig=b&se=1&skn=k;EntityPath=x' }), /cannot be combined/);
    assert.throws(() => resolveConnection({ connectionString: 'Endpoint=sb://ns.servicebus.windows.net/;Authentication=Managed Identity;SharedAccessKeyName=k;SharedAccessKey=v;EntityPath=x' }), /cannot be combined/);
    assert.throws(() => resolveConnection({ connectionString: 'Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=k;SharedAccessKey=v' }), /no hybrid connection name/);
    assert.throws(() => resolveConnection({ endpoint: 'ws://127.0.0.1:1', entityPath: 'x', keyName: 'k' }), /together/);
  });

  it('takes the SharedAccessSignature form as a pre-issued token, used as is', async () => {
    const token = createSasToken('http://ns.servicebus.windows.net/x/', 'k', 'v', Math.floor(Date.now() / 1000) + 600);
    const c = resolveConnection({ connectionString: `Endpoint=sb://ns.servicebus.windows.net/;SharedAccessSignature=${token};EntityPath=x` });
    assert.ok(c.tokenProvider instanceof SharedAccessSignatureTokenProvider);
    const provider: TokenProvider = c.tokenProvider;
    assert.equal((await provider.getToken(c.audience)).token, token);
  });

  it('takes Authentication=Managed Identity (any spacing and case) as Microsoft Entra ID', () => {
    for (const value of ['Managed Identity', 'ManagedIdentity', 'managed identity']) {
      const c = resolveConnection({ connectionString: `Endpoint=sb://ns.servicebus.windows.net/;Authentication=${value};EntityPath=x` });
      assert.ok(c.tokenProvider instanceof EntraTokenProvider, value);
    }
    assert.throws(() => resolveConnection({ connectionString: 'Endpoint=sb://ns.servicebus.windows.net/;Authentication=Password;EntityPath=x' }), /not supported/);
  });

  it('maps endpoint schemes: sb, wss, https are TLS; ws, http are plain; a bare name is a namespace', () => {
    const cases: [string, { secure: boolean; host: string; port: number }][] = [
      ['sb://relay.local:9443/', { secure: true, host: 'relay.local', port: 9443 }],
      ['wss://relay.local', { secure: true, host: 'relay.local', port: 443 }],
      ['https://relay.local:8443', { secure: true, host: 'relay.local', port: 8443 }],
      ['ws://127.0.0.1:9350', { secure: false, host: '127.0.0.1', port: 9350 }],
      ['http://127.0.0.1', { secure: false, host: '127.0.0.1', port: 80 }],
      ['contoso', { secure: true, host: 'contoso.servicebus.windows.net', port: 443 }],
    ];
    for (const [endpoint, expected] of cases) assert.deepEqual(resolveConnection({ endpoint, entityPath: 'x', anonymous: true }).endpoint, expected, endpoint);
    assert.throws(() => resolveConnection({ endpoint: 'ftp://relay.local', entityPath: 'x', anonymous: true }), /unsupported scheme/);
  });

  it('explicit options win over the connection string', () => {
    const c = resolveConnection({ connectionString: 'Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=k;SharedAccessKey=v;EntityPath=a', entityPath: 'b', endpoint: 'ws://127.0.0.1:1' });
    assert.equal(c.entityPath, 'b');
    assert.equal(c.endpoint.secure, false);
  });
});

describe('SAS token reuse', () => {
  it('reuses a token per audience while more than half of its lifetime is left, then signs a new one', async () => {
    const provider = new SasKeyTokenProvider(ROOT_RULE, ROOT_KEY, 2);
    const first = await provider.getToken('http://a/x');
    assert.equal((await provider.getToken('http://a/x')).token, first.token);
    const other = await provider.getToken('http://a/y');
    assert.notEqual(other.token, first.token);
    assert.match(other.token, /sr=http%3a%2f%2fa%2fy/i);
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const renewed = await provider.getToken('http://a/x');
    assert.notEqual(renewed.token, first.token);
    assert.ok(renewed.expiresAt > first.expiresAt, 'the new token expires later');
  });
});

describe('tokens and URLs on the wire, as the .NET SDK builds them', () => {
  let recorder: UpgradeRecorder;
  before(async () => {
    recorder = await startUpgradeRecorder();
  });
  after(() => recorder.close());

  it('a sender: URL with suffix, query, sb-hc-action and sb-hc-id; SAS token equal to a hand-computed HMAC', async () => {
    const keyName = 'send rule!*()~';
    const key = 'k3y/with+chars=';
    const client = new HybridConnectionClient({ endpoint: recorder.base, entityPath: 'Orders/EU', keyName, key });
    await assert.rejects(client.createConnection({ pathSuffix: 'dev/1', query: 'a=1&b=two', trackingId: 'tid-1', retryBudgetMs: 0 }), AuthorizationFailedError);
    const seen = recorder.requests.at(-1)!;
    assert.equal(seen.url, '/$hc/Orders/EU/dev/1?a=1&b=two&sb-hc-action=connect&sb-hc-id=tid-1');
    assert.ok(seen.rawHeaderNames.includes('ServiceBusAuthorization'), 'the token travels in the ServiceBusAuthorization header');
    assert.doesNotMatch(seen.url, /sb-hc-token/);
    const token = String(seen.headers.servicebusauthorization);
    const se = Number(/&se=(\d+)&/.exec(token)?.[1]);
    assert.ok(Math.abs(se - (Date.now() / 1000 + 3600)) < 60, 'valid for one hour');
    // Audience: http scheme, no port, the entity path with a trailing slash (TokenProvider.NormalizeAudience).
    assert.equal(token, dotnetToken(`http://127.0.0.1/Orders/EU/`, keyName, key, se));
    assert.match(token, /^SharedAccessSignature sr=http%3A%2F%2F127\.0\.0\.1%2FOrders%2FEU%2F&sig=[A-Za-z0-9%]+&se=\d+&skn=send\+rule!\*\(\)%7E$/);
  });

  it('a listener: /$hc/{path}?sb-hc-action=listen&sb-hc-id={listenerId}, with the same kind of token', async () => {
    const listener = new HybridConnectionListener({ endpoint: recorder.base, entityPath: 'hc', keyName: 'listen', key: 'secret', listenerId: 'listener-7' });
    await assert.rejects(listener.open(), AuthorizationFailedError);
    const seen = recorder.requests.at(-1)!;
    assert.equal(seen.url, '/$hc/hc?sb-hc-action=listen&sb-hc-id=listener-7');
    const token = String(seen.headers.servicebusauthorization);
    const se = Number(/&se=(\d+)&/.exec(token)?.[1]);
    assert.equal(token, dotnetToken('http://127.0.0.1/hc/', 'listen', 'secret', se));
  });

  it('an anonymous sender sends no token at all', async () => {
    const client = new HybridConnectionClient({ endpoint: recorder.base, entityPath: 'hc', anonymous: true });
    await assert.rejects(client.createConnection({ retryBudgetMs: 0 }), AuthorizationFailedError);
    const seen = recorder.requests.at(-1)!;
    assert.equal(seen.headers.servicebusauthorization, undefined);
    assert.doesNotMatch(seen.url, /sb-hc-token/);
  });
});

describe('credentials against the hybridge relay', () => {
  const cleanup = new Cleanup();
  let relay: TestRelay;
  let listener: HybridConnectionListener;

  before(async () => {
    relay = cleanup.add(await startRelay({ hybridConnections: ['creds', 'open'] }), (r) => r.stop());
    await relay.server.store.updateHybridConnection('open', { requiresClientAuthorization: false });
    listener = cleanup.listener(listenerFor(relay, 'creds'));
    await listener.open();
    const openListener = cleanup.listener(listenerFor(relay, 'open'));
    openListener.on('connection', (stream) => void writeAll(stream, Buffer.from('anonymous ok')).catch(() => undefined));
    await openListener.open();
  });
  after(() => cleanup.run());

  /** Connects with `client`, sends 64 KiB and checks what the listener got. */
  async function roundTrip(client: HybridConnectionClient): Promise<void> {
    const sender = cleanup.stream(await client.createConnection({ retryBudgetMs: 5000 }));
    const accepted = cleanup.stream(await nextConnection(listener));
    const payload = patternBytes(64 * 1024, 13);
    await assertDelivered(sender, accepted, payload);
  }

  it('a connection string with the root key (as a string argument)', async () => {
    await roundTrip(new HybridConnectionClient(relay.connectionString('creds')));
  });

  it('endpoint + key name and key', async () => {
    await roundTrip(new HybridConnectionClient({ endpoint: relay.wsBase, entityPath: 'creds', keyName: ROOT_RULE, key: ROOT_KEY }));
  });

  it('a pre-issued signature, as an option and in a connection string', async () => {
    await roundTrip(new HybridConnectionClient({ endpoint: relay.wsBase, entityPath: 'creds', signature: relay.token('creds') }));
    await roundTrip(new HybridConnectionClient(`Endpoint=ws://127.0.0.1:${relay.port}/;SharedAccessSignature=${relay.token('creds')};EntityPath=creds`));
  });

  it('an expired pre-issued signature is refused with 401', async () => {
    const client = new HybridConnectionClient({ endpoint: relay.wsBase, entityPath: 'creds', signature: relay.token('creds', { ttlSeconds: -10 }) });
    const error = await client.createConnection().catch((err: Error) => err);
    assert.ok(error instanceof AuthorizationFailedError, String(error));
    assert.equal(error.statusCode, 401);
  });

  it('an anonymous sender reaches a hybrid connection without client authorization, and is refused on one with it', async () => {
    const open = new HybridConnectionClient({ endpoint: relay.wsBase, entityPath: 'open', anonymous: true });
    const stream = cleanup.stream(await open.createConnection({ retryBudgetMs: 5000 }));
    const reply = await digestOf(stream);
    assert.deepEqual(reply, { length: 12, sha256: sha256(Buffer.from('anonymous ok')) });

    const closed = new HybridConnectionClient({ endpoint: relay.wsBase, entityPath: 'creds', anonymous: true });
    const error = await closed.createConnection().catch((err: Error) => err);
    assert.ok(error instanceof AuthorizationFailedError, String(error));
    assert.equal(error.statusCode, 401);
  });
});
