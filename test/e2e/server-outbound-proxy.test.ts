/**
 * `hybridge server --outbound-proxy`: what the relay itself fetches or sends (an identity
 * provider's signing keys, webhook deliveries) goes through a real squid, as it must in a network
 * whose only way out is a proxy. The issuer and the webhook receiver listen on loopback; an
 * explicit proxy URL takes loopback destinations too, so squid's access log proves each went
 * through it. A malformed value is one line with exit code 2.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { HybridConnectionClient, HybridConnectionListener, type TokenCredentialLike } from '../../src/client/index.js';
import { waitFor } from '../helpers/async.js';
import { patternBytes } from '../helpers/data.js';
import { stopAll } from '../helpers/processes.js';
import { proxyVariables, startSquid, type TestSquid } from '../helpers/squid.js';
import { assertDelivered, Cleanup, nextConnection } from '../client/fixtures.js';
import { cleanEnv, oneLine, runCli, startServer } from '../relay/management-cli-kit.js';
import { makeKey, startLocalIssuer, type LocalIssuer } from '../relay/jwt/local-issuer.js';

describe('hybridge server --outbound-proxy (squid)', () => {
  const cleanup = new Cleanup();
  const dir = mkdtempSync(join(tmpdir(), 'hybridge-outbound-proxy-'));
  let squid: TestSquid;
  let issuer: LocalIssuer;
  let hooks: http.Server;
  const delivered: string[] = [];

  before(async () => {
    squid = await startSquid();
    issuer = await startLocalIssuer([makeKey('ES256')]);
    hooks = http.createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        delivered.push(body);
        res.writeHead(204).end();
      });
    });
    hooks.listen(0, '127.0.0.1');
    await once(hooks, 'listening');
  });
  after(async () => {
    await cleanup.run();
    await stopAll();
    hooks.closeAllConnections();
    await new Promise((resolve) => hooks.close(resolve));
    await issuer.close();
    await squid.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const credential = (role: string): TokenCredentialLike => ({
    getToken: async () => ({ token: issuer.token({ roles: [role] }), expiresOnTimestamp: Date.now() + 600_000 }),
  });

  it('the signing keys (OIDC discovery and JWKS) and the webhook deliveries go through the proxy', async () => {
    const issuerAt = new URL(issuer.issuer).host;
    const hookAt = `127.0.0.1:${(hooks.address() as AddressInfo).port}`;
    const server = await startServer(['--data', join(dir, 'a'), '--hyco', 'h1', '--jwt-issuer', issuer.issuer, '--outbound-proxy', squid.url(), '--webhook', `http://${hookAt}/events`, '--log-level', 'info'], {
      env: { ...cleanEnv(), ...proxyVariables() },
    });
    await server.proc.waitForOutput(/JWT signing keys loaded/, 10_000);
    const listener = cleanup.listener(new HybridConnectionListener({ endpoint: server.url, entityPath: 'h1', credential: credential('Azure Relay Listener') }));
    await listener.open();
    const stream = cleanup.stream(await new HybridConnectionClient({ endpoint: server.url, entityPath: 'h1', credential: credential('Azure Relay Sender') }).createConnection());
    const accepted = cleanup.stream(await nextConnection(listener));
    await assertDelivered(stream, accepted, patternBytes(100_000, 3));
    await waitFor(() => delivered.some((body) => body.includes('NewListenerRegistered')), 10_000, 'the listener-online webhook');
    // squid writes a CONNECT line when its tunnel closes; the key-set fetch and the delivery each closed theirs.
    await waitFor(() => squid.tunnelsTo(issuerAt).length >= 2 && squid.tunnelsTo(hookAt).length >= 1, 10_000, 'squid access log lines');
    assert.ok(issuer.hits.get('/tenant/v2.0/.well-known/openid-configuration')! >= 1 && issuer.hits.get('/tenant/discovery/keys')! >= 1, 'discovery and key set fetched');
  });

  it('without it, the relay fetches directly: the proxy sees nothing of a loopback issuer', async () => {
    const before = squid.accesses().length;
    const server = await startServer(['--data', join(dir, 'b'), '--hyco', 'h1', '--jwt-issuer', issuer.issuer], { env: { ...cleanEnv(), ...proxyVariables({ HTTPS_PROXY: squid.url(), HTTP_PROXY: squid.url() }) } });
    await server.proc.waitForOutput(/JWT signing keys loaded/, 10_000);
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(squid.accesses().length, before, 'loopback destinations never go to an environment proxy');
  });

  it('a malformed --outbound-proxy is one line and exit code 2', async () => {
    const result = await runCli(['server', '--port', '0', '--outbound-proxy', 'ftp://proxy.example:21']);
    assert.equal(result.code, 2, result.stderr);
    const line = oneLine(result.stderr);
    assert.ok(line, result.stderr);
    assert.match(line, /--outbound-proxy/);
  });
});
