/**
 * The client library through real proxies: Debian's squid (HTTP CONNECT, with and without Basic
 * authentication) and Dante (SOCKS5, with and without username/password), over ws:// and over
 * TLS with the relay's self-signed certificate checked end to end inside the tunnel. Checked: the
 * bytes (length and SHA-256) of relayed streams both ways and of an HTTP request whose response
 * takes a request rendezvous, that the proxy carried every connection (squid's access log, Dante's
 * log), that NO_PROXY and `proxy: false` go direct, the relay name resolved by the proxy only
 * (remote DNS), masking through a proxy, and the one-line refusals (407, proxy down, SOCKS5
 * password) with whether a retry can help.
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { HybridConnectionClient, HybridConnectionListener, RelayError, type HybridConnectionOptions } from '../../src/client/index.js';
import { ProxyPolicy } from '../../src/proxy/proxy-policy.js';
import { openWebSocket } from '../../src/websocket/client-handshake.js';
import { freePort, waitFor, withTimeout } from '../helpers/async.js';
import { patternBytes, sha256 } from '../helpers/data.js';
import { createThrowawayUser, startDante, type TestDante, type ThrowawayUser } from '../helpers/dante.js';
import { blackholePort } from '../tunnel/tunnel-kit.js';
import { nodeRequest } from './http-senders.js';
import { startRelay, ROOT_KEY, ROOT_RULE, type TestRelay } from '../helpers/relay.js';
import { RELAY_TEST_HOST, startSquid, type TestSquid } from '../helpers/squid.js';
import { Cleanup, digestOf, KiB, MiB, nextConnection, writeAll } from './fixtures.js';

const USER = { user: 'relay-user', password: 'p@ss: w0rd%' };
const HYCO = 'through-proxy';

/** Root-key options for HYCO on `relay` reached by `host`, through `proxy`. */
function options(relay: TestRelay, proxy: HybridConnectionOptions['proxy'], host = '127.0.0.1'): HybridConnectionOptions {
  const scheme = relay.ca ? 'wss' : 'ws';
  return {
    endpoint: `${scheme}://${host}:${relay.port}`,
    entityPath: HYCO,
    keyName: ROOT_RULE,
    key: ROOT_KEY,
    proxy,
    ...(relay.ca ? { tls: { ca: relay.ca } } : {}),
  };
}

/** A listener and a client through `proxy`; 1 MiB each way on two streams, every byte checked. */
async function exchangeThrough(cleanup: Cleanup, relay: TestRelay, proxy: HybridConnectionOptions['proxy'], host?: string): Promise<void> {
  const listener = cleanup.listener(new HybridConnectionListener(options(relay, proxy, host)));
  await withTimeout(listener.open(), 15_000, 'listener open through the proxy');
  const client = new HybridConnectionClient(options(relay, proxy, host));
  for (let i = 0; i < 2; i++) {
    const [sent, accepted] = await Promise.all([client.createConnection({ retryBudgetMs: 0 }), nextConnection(listener)]);
    cleanup.stream(sent);
    cleanup.stream(accepted);
    const up = patternBytes(MiB + i * 977, 10 + i);
    const down = patternBytes(MiB + i * 1013, 20 + i);
    const atListener = digestOf(accepted);
    const atSender = digestOf(sent);
    await Promise.all([writeAll(sent, up), writeAll(accepted, down)]);
    assert.deepEqual(await atListener, { length: up.length, sha256: sha256(up) }, 'sender to listener');
    assert.deepEqual(await atSender, { length: down.length, sha256: sha256(down) }, 'listener to sender');
  }
  await listener.close();
}

for (const tls of [false, true]) {
  describe(`the client library through squid (${tls ? 'wss' : 'ws'})`, () => {
    const suite = new Cleanup();
    let relay: TestRelay;
    let squid: TestSquid;
    let authSquid: TestSquid;
    const relayAt = () => `127.0.0.1:${relay.port}`;

    before(async () => {
      relay = suite.add(await startRelay({ tls, tlsNames: [RELAY_TEST_HOST], hybridConnections: [HYCO] }), (r) => r.stop());
      [squid, authSquid] = await Promise.all([startSquid(), startSquid({ users: { [USER.user]: USER.password } })]);
      suite.add(squid, (s) => s.stop());
      suite.add(authSquid, (s) => s.stop());
    });
    after(() => suite.run());
    /** What one test opened; emptied by the test (to read squid's log afterwards) and after each. */
    const cleanup = new Cleanup();
    afterEach(() => cleanup.run());

    it('carries the control channel, senders and rendezvous, with every byte intact', async () => {
      await exchangeThrough(cleanup, relay, squid.url());
      await cleanup.run();
      // Squid logs a tunnel when it closes: 2 senders, 2 rendezvous, 1 control channel.
      const tunnels = await waitFor(() => (squid.tunnelsTo(relayAt()).length >= 5 ? squid.tunnelsTo(relayAt()) : undefined), 10_000, 'squid access log lines');
      assert.ok(tunnels);
      assert.equal(tunnels.length, 5, JSON.stringify(squid.accesses()));
      // Squid counts the bytes it delivered to the client: the listener's data on sender tunnels, the sender's on rendezvous tunnels.
      assert.equal(tunnels.filter((t) => t.bytes > MiB).length, 4, 'the data went through squid, on sender and rendezvous tunnels');
    });

    it('authenticates with Basic credentials from the URL (percent-decoded)', async () => {
      await exchangeThrough(cleanup, relay, authSquid.url(USER));
      await cleanup.run();
      const tunnels = await waitFor(() => (authSquid.tunnelsTo(relayAt()).length >= 5 ? authSquid.tunnelsTo(relayAt()) : undefined), 10_000, 'squid access log lines');
      assert.ok(tunnels);
      assert.ok(tunnels.every((t) => t.user === USER.user), JSON.stringify(tunnels));
    });

    it('a request rendezvous (an HTTP response over 64 KiB) goes through the proxy too', async () => {
      const listener = cleanup.listener(
        new HybridConnectionListener({
          ...options(relay, squid.url()),
          requestHandler: (_req, res) => {
            res.end(patternBytes(300 * KiB, 5));
          },
        }),
      );
      await listener.open();
      const before = squid.accesses().length;
      const result = await nodeRequest(`${relay.httpBase}/${HYCO}/page`, { ca: relay.ca, headers: { ServiceBusAuthorization: relay.token(HYCO) } });
      assert.equal(result.status, 200);
      assert.equal(result.length, 300 * KiB);
      assert.equal(result.sha256, sha256(patternBytes(300 * KiB, 5)));
      // The control channel is still open, so a closed tunnel to the relay is the rendezvous.
      const carried = await waitFor(() => squid.accesses().slice(before).find((a) => a.method === 'CONNECT' && a.target === relayAt()), 10_000, 'the rendezvous in squid\'s log');
      assert.equal(carried?.status, 200, JSON.stringify(squid.accesses()));
      await cleanup.run();
    });

    it('wrong credentials: a 407 in one line naming the proxy, never the password, not retried', async () => {
      const wrong = authSquid.url({ user: USER.user, password: 'not-the-password' });
      const started = Date.now();
      const error = await new HybridConnectionClient(options(relay, wrong)).createConnection({ retryBudgetMs: 20_000 }).catch((err: Error) => err);
      assert.ok(error instanceof RelayError, String(error));
      assert.equal(error.transient, false);
      assert.ok(Date.now() - started < 5000, 'a 407 is not retried for the budget');
      assert.equal(
        error.message,
        `connecting to "${HYCO}": proxy http://127.0.0.1:${authSquid.port} refused the tunnel to ${relayAt()}: 407 Proxy Authentication Required; check the user name and password in the proxy URL`,
      );
      const none = (await new HybridConnectionListener(options(relay, authSquid.url())).open().catch((err: Error) => err)) as Error;
      assert.match(none.message, /^listening on "through-proxy": proxy http:\/\/127\.0\.0\.1:\d+ refused the tunnel to .*: 407 Proxy Authentication Required; it wants a user name and password: give them in the proxy URL/);
      assert.doesNotMatch(`${error.message} ${none.message}`, /not-the-password|relay-user/);
    });

    it('a proxy that is down: one line naming it, transient', async () => {
      const down = `http://someone:secret@127.0.0.1:${await freePort()}`;
      const error = await new HybridConnectionClient(options(relay, down)).createConnection({ retryBudgetMs: 0 }).catch((err: Error) => err);
      assert.ok(error instanceof RelayError, String(error));
      assert.equal(error.transient, true);
      assert.equal(error.message, `connecting to "${HYCO}": cannot reach proxy ${down.replace('someone:secret@', '')} (connection refused)`);
    });

    // The proxy's own answers do not depend on ws or wss: checked once.
    if (!tls) it('a destination the proxy\'s rules refuse: 403, not retried', async () => {
      const strict = await startSquid({ connectPorts: '443' });
      try {
        const error = await new HybridConnectionClient(options(relay, strict.url())).createConnection({ retryBudgetMs: 20_000 }).catch((err: Error) => err);
        assert.ok(error instanceof RelayError && !error.transient, String(error));
        assert.equal(
          error.message,
          `connecting to "${HYCO}": proxy http://127.0.0.1:${strict.port} refused the tunnel to ${relayAt()}: 403 Forbidden; the proxy's rules do not allow a tunnel to this host and port (many allow CONNECT to port 443 only)`,
        );
      } finally {
        await strict.stop();
      }
    });

    if (!tls) it('a proxy that does not answer, or cannot be reached in time: the timeout says which', async () => {
      const client = (proxy: string) => new HybridConnectionClient(options(relay, proxy)).createConnection({ retryBudgetMs: 0, attemptTimeoutMs: 1000 });
      squid.freeze();
      try {
        const silent = await client(squid.url()).catch((err: Error) => err);
        assert.ok(silent instanceof RelayError && silent.transient, String(silent));
        assert.equal(silent.message, `connecting to "${HYCO}": proxy http://127.0.0.1:${squid.port} did not open the tunnel to ${relayAt()} within 1 s`);
      } finally {
        squid.resume();
      }
      const hole = await blackholePort();
      try {
        const unreachable = await client(`http://127.0.0.1:${hole.port}`).catch((err: Error) => err);
        assert.ok(unreachable instanceof RelayError && unreachable.transient, String(unreachable));
        assert.equal(unreachable.message, `connecting to "${HYCO}": cannot reach proxy http://127.0.0.1:${hole.port} (no connection within 1 s)`);
      } finally {
        hole.close();
      }
    });

    it('NO_PROXY and proxy: false reach the relay directly', async () => {
      const before = squid.accesses().length;
      await exchangeThrough(cleanup, relay, ProxyPolicy.from(squid.url(), { env: { NO_PROXY: `localhost,127.0.0.1:${relay.port}` } }));
      await exchangeThrough(cleanup, relay, false);
      await cleanup.run();
      // A proxied control channel would be logged once closed; squid writes the line at once.
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.equal(squid.accesses().length, before, 'squid saw none of it');
    });

    it('HTTP(S)_PROXY from the environment, for a relay name only the proxy can resolve', async () => {
      const env = tls ? { HTTPS_PROXY: squid.url() } : { http_proxy: squid.url(), HTTP_PROXY: 'http://127.0.0.1:1' };
      await exchangeThrough(cleanup, relay, ProxyPolicy.from(undefined, { env }), RELAY_TEST_HOST);
      await cleanup.run();
      await waitFor(() => squid.tunnelsTo(`${RELAY_TEST_HOST}:${relay.port}`).length >= 5, 10_000, 'tunnels to the name');
    });

    it(`masking: ${tls ? 'TLS inside the tunnel keeps the zero mask' : 'a plain ws:// relay through a proxy is masked, though the proxy is on loopback'}`, async () => {
      const address = `${tls ? 'wss' : 'ws'}://127.0.0.1:${relay.port}/$hc/${HYCO}?sb-hc-action=listen&sb-hc-token=${encodeURIComponent(relay.token(HYCO))}`;
      const via = await openWebSocket(address, { proxy: ProxyPolicy.from(squid.url()), tls: relay.ca ? { ca: relay.ca } : undefined, timeoutMs: 10_000 });
      const direct = await openWebSocket(address, { tls: relay.ca ? { ca: relay.ca } : undefined, timeoutMs: 10_000 });
      via.socket.destroy();
      direct.socket.destroy();
      assert.equal(via.maskingOptional, tls);
      assert.equal(direct.maskingOptional, true, 'a direct loopback peer needs no mask');
    });
  });
}

describe('the client library through a SOCKS5 proxy (Dante)', () => {
  const suite = new Cleanup();
  let relay: TestRelay;
  let dante: TestDante;
  let authDante: TestDante;
  let account: ThrowawayUser;

  before(async () => {
    relay = suite.add(await startRelay({ tls: true, tlsNames: [RELAY_TEST_HOST], hybridConnections: [HYCO] }), (r) => r.stop());
    account = suite.add(createThrowawayUser(), (u) => u.remove());
    [dante, authDante] = await Promise.all([startDante(), startDante({ usernames: true })]);
    suite.add(dante, (d) => d.stop());
    suite.add(authDante, (d) => d.stop());
  });
  after(() => suite.run());
  const cleanup = new Cleanup();
  afterEach(() => cleanup.run());

  it('carries everything over TLS, sending the relay name for the proxy to resolve', async () => {
    await exchangeThrough(cleanup, relay, dante.url(), RELAY_TEST_HOST);
    await cleanup.run();
    await waitFor(() => dante.sessionsTo(relay.port) >= 5, 10_000, `5 SOCKS sessions to the relay in Dante's log:\n${dante.output()}`);
  });

  it('logs in with a username and password (RFC 1929)', async () => {
    await exchangeThrough(cleanup, relay, authDante.url({ user: account.user, password: account.password }), RELAY_TEST_HOST);
    await cleanup.run();
    await waitFor(() => authDante.sessionsTo(relay.port) >= 5, 10_000, `5 SOCKS sessions to the relay in Dante's log:\n${authDante.output()}`);
  });

  it('a wrong password or none: one line naming the proxy, not retried', async () => {
    const wrong = await new HybridConnectionClient(options(relay, authDante.url({ user: account.user, password: 'wrong' }), RELAY_TEST_HOST))
      .createConnection({ retryBudgetMs: 20_000 })
      .catch((err: Error) => err);
    assert.ok(wrong instanceof RelayError && !wrong.transient, String(wrong));
    assert.equal(wrong.message, `connecting to "${HYCO}": proxy socks5://127.0.0.1:${authDante.port} rejected the user name or password; check them in the proxy URL`);
    const none = await new HybridConnectionClient(options(relay, authDante.url(), RELAY_TEST_HOST)).createConnection({ retryBudgetMs: 20_000 }).catch((err: Error) => err);
    assert.ok(none instanceof RelayError && !none.transient, String(none));
    assert.match(none.message, /proxy socks5:\/\/127\.0\.0\.1:\d+ accepts none of the offered authentication methods; it wants a user name and password/);
    assert.ok(authDante.authenticationFailures() >= 1);
  });

  it('the wrong kind of proxy: a SOCKS5 URL for squid, an HTTP URL for Dante', async () => {
    const squid = await startSquid();
    try {
      const asSocks = await new HybridConnectionClient(options(relay, `socks5://127.0.0.1:${squid.port}`)).createConnection({ retryBudgetMs: 0, attemptTimeoutMs: 1000 }).catch((err: Error) => err);
      assert.ok(asSocks instanceof RelayError, String(asSocks));
      assert.equal(
        asSocks.message,
        `connecting to "${HYCO}": proxy socks5://127.0.0.1:${squid.port} did not open the tunnel to 127.0.0.1:${relay.port} within 1 s (an HTTP proxy stays silent like this; if it is one, write http://)`,
      );
    } finally {
      await squid.stop();
    }
    const asHttp = await new HybridConnectionClient(options(relay, `http://127.0.0.1:${dante.port}`)).createConnection({ retryBudgetMs: 0 }).catch((err: Error) => err);
    assert.ok(asHttp instanceof RelayError, String(asHttp));
    assert.equal(
      asHttp.message,
      `connecting to "${HYCO}": proxy http://127.0.0.1:${dante.port} closed the connection before the tunnel to 127.0.0.1:${relay.port} was open (a SOCKS5 proxy does this; if it is one, write socks5://)`,
    );
  });

  it('a relay the proxy cannot reach: the SOCKS5 reply, transient', async () => {
    const closed = await freePort();
    const error = await new HybridConnectionClient({ ...options(relay, dante.url()), endpoint: `wss://127.0.0.1:${closed}` })
      .createConnection({ retryBudgetMs: 0 })
      .catch((err: Error) => err);
    assert.ok(error instanceof RelayError && error.transient, String(error));
    assert.equal(error.message, `connecting to "${HYCO}": proxy socks5://127.0.0.1:${dante.port} refused the tunnel to 127.0.0.1:${closed}: connection refused (SOCKS5 reply 0x05)`);
  });
});
