/**
 * `hybridge server` with an identity provider as a real process: --jwt-issuer (OIDC discovery of a
 * local issuer whose keys the test made) and --jwt-roles. hybridge's own ends use their Microsoft
 * Entra ID mode unchanged: relay-listener and relay-sender get tokens from @azure/identity's
 * DefaultAzureCredential through the App Service managed-identity environment (IDENTITY_ENDPOINT /
 * IDENTITY_HEADER), served by the test on loopback in place of Azure (which cannot run here); the
 * library gets them from a credential object. Bytes are checked, refusals are 401/403, no token
 * appears in any process's output, and every flag mistake is one line with exit code 2.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { AuthorizationFailedError, HybridConnectionClient, HybridConnectionListener, type TokenCredentialLike } from '../../src/client/index.js';
import { patternBytes, sha256 } from '../helpers/data.js';
import { spawnHybridge, stopAll, type RunningProcess } from '../helpers/processes.js';
import { cleanEnv, oneLine, runCli, startServer } from '../relay/management-cli-kit.js';
import { makeKey, signJwt, startLocalIssuer, type LocalIssuer } from '../relay/jwt/local-issuer.js';
import { echoServer, roundTrip, tunnelEnv, type TestServer } from '../tunnel/tunnel-kit.js';
import { Cleanup, assertDelivered, nextConnection } from '../client/fixtures.js';

/** An App Service managed-identity endpoint: the identity header names the roles the token gets. */
async function startIdentityEndpoint(issuer: LocalIssuer, issued: string[]): Promise<{ url: string; resources: string[]; close(): Promise<void> }> {
  const resources: string[] = [];
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    resources.push(url.searchParams.get('resource') ?? '');
    const role = String(req.headers['x-identity-header'] ?? '');
    const exp = Math.floor(Date.now() / 1000) + 3600;
    const token = issuer.token({ roles: [role], exp });
    issued.push(token);
    const body = JSON.stringify({ access_token: token, expires_on: String(exp), resource: url.searchParams.get('resource'), token_type: 'Bearer' });
    res.writeHead(200, { 'content-type': 'application/json' }).end(body);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/msi/token`,
    resources,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe('hybridge server --jwt-issuer (processes)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hybridge-server-jwt-'));
  const issued: string[] = [];
  const cleanup = new Cleanup();
  const outputs: RunningProcess[] = [];
  let issuer: LocalIssuer;
  let identity: Awaited<ReturnType<typeof startIdentityEndpoint>>;
  let echo: TestServer;
  let relayUrl: string;

  before(async () => {
    issuer = await startLocalIssuer([makeKey('ES256')]);
    identity = await startIdentityEndpoint(issuer, issued);
    echo = await echoServer();
    const roles = join(dir, 'roles.yaml');
    writeFileSync(roles, 'roles:\n  tunnel-listener:\n    rights: [Listen]\n    hybridConnections: [tunnel]\n  tunnel-sender:\n    rights: [Send]\n    hybridConnections: [tunnel]\n');
    const server = await startServer(['--data', join(dir, 'data'), '--hyco', 'tunnel', '--hyco', 'lib', '--jwt-issuer', issuer.issuer, '--jwt-roles', roles, '--log-level', 'debug']);
    outputs.push(server.proc);
    relayUrl = server.url;
  });
  after(async () => {
    await cleanup.run();
    await stopAll();
    const text = outputs.map((p) => p.output()).join('\n');
    for (const token of issued) for (const part of token.split('.').slice(1)) assert.ok(!text.includes(part), 'no part of a token in any output');
    await identity.close();
    await issuer.close();
    echo.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('relay-listener and relay-sender in Entra ID mode (DefaultAzureCredential, managed identity) carry bytes through it', async () => {
    // No AZTUNNEL_KEY_NAME/AZTUNNEL_KEY: aztunnel's rule, and hybridge's, is Entra ID then.
    const env = (role: string) => tunnelEnv({ AZTUNNEL_KEY_NAME: undefined, AZTUNNEL_KEY: undefined, IDENTITY_ENDPOINT: identity.url, IDENTITY_HEADER: role, AZURE_CLIENT_ID: undefined, AZURE_TENANT_ID: undefined });
    const target = `127.0.0.1:${echo.port}`;
    const listener = spawnHybridge(['relay-listener', '--relay', relayUrl, '--hyco', 'tunnel', '--allow', target], { env: env('tunnel-listener') });
    outputs.push(listener);
    await listener.waitForOutput(/listener online/, 20_000);
    const sender = spawnHybridge(['relay-sender', 'port-forward', target, '--relay', relayUrl, '--hyco', 'tunnel', '-b', '127.0.0.1:0'], { env: env('tunnel-sender') });
    outputs.push(sender);
    const port = Number((await sender.waitForOutput(/listening on 127\.0\.0\.1:(\d+), forwarding/, 20_000))[1]);
    const payload = patternBytes(700_000, 9);
    const result = await roundTrip(port, payload);
    assert.equal(result.received.length, payload.length);
    assert.equal(result.sha256, sha256(payload));
    assert.ok(identity.resources.length >= 2 && identity.resources.every((r) => r === 'https://relay.azure.net/'), `the token was asked for Azure Relay: ${identity.resources.join(', ')}`);

    // A sender whose role is the listener's is refused with 403 and says so.
    const wrong = spawnHybridge(['relay-sender', 'port-forward', target, '--relay', relayUrl, '--hyco', 'tunnel', '-b', '127.0.0.1:0'], { env: env('tunnel-listener') });
    outputs.push(wrong);
    const wrongPort = Number((await wrong.waitForOutput(/listening on 127\.0\.0\.1:(\d+), forwarding/, 20_000))[1]);
    await roundTrip(wrongPort, Buffer.from('x'), 10_000).catch(() => undefined);
    await wrong.waitForOutput(/403/, 10_000);
  });

  it('the library with a credential object works against it; a token signed by a key the issuer does not publish gets 401', async () => {
    const credential = (role: string, key = issuer.keys[0]!): TokenCredentialLike => ({
      getToken: async () => {
        const exp = Math.floor(Date.now() / 1000) + 600;
        const token = signJwt(key, { iss: issuer.issuer, aud: 'https://relay.azure.net', exp, roles: [role] });
        issued.push(token);
        return { token, expiresOnTimestamp: exp * 1000 };
      },
    });
    const listener = cleanup.listener(new HybridConnectionListener({ endpoint: relayUrl, entityPath: 'lib', credential: credential('Azure Relay Owner') }));
    await listener.open();
    const stream = cleanup.stream(await new HybridConnectionClient({ endpoint: relayUrl, entityPath: 'lib', credential: credential('Azure Relay Sender') }).createConnection());
    const accepted = cleanup.stream(await nextConnection(listener));
    await assertDelivered(stream, accepted, patternBytes(250_000, 10));
    const forged = await new HybridConnectionClient({ endpoint: relayUrl, entityPath: 'lib', credential: credential('Azure Relay Sender', makeKey('ES256', issuer.keys[0]!.kid)) }).createConnection().catch((e: Error) => e);
    assert.ok(forged instanceof AuthorizationFailedError && forged.statusCode === 401, String(forged));
    assert.match(forged.message, /InvalidSignature/);
  });

  it('every mistake in the JWT flags is one line with exit code 2', async () => {
    const badRoles = join(dir, 'bad-roles.yaml');
    writeFileSync(badRoles, 'roles:\n  x:\n    rights: [Read]\n');
    const badJwks = join(dir, 'bad.json');
    writeFileSync(badJwks, '{"keys":[{"kty":"RSA","n":"AQAB","e":"AQAB"}]}');
    const cases: [string[], RegExp][] = [
      [['--jwt-audience', 'x'], /^hybridge: --jwt-audience needs --jwt-issuer/],
      [['--jwt-issuer', 'http://idp.example/'], /^hybridge: --jwt-issuer "http:\/\/idp.example\/": .*https:\/\//],
      [['--jwt-issuer', 'https://a.example/', '--jwt-issuer', 'https://b.example/', '--jwt-jwks', badJwks], /^hybridge: --jwt-jwks belongs to one issuer/],
      [['--jwt-issuer', 'https://a.example/', '--jwt-jwks', join(dir, 'missing.json')], /^hybridge: --jwt-jwks .*missing\.json: no such file$/],
      [['--jwt-issuer', 'https://a.example/', '--jwt-jwks', badJwks], /^hybridge: --jwt-jwks .*bad\.json: it has no usable signing key/],
      [['--jwt-issuer', 'https://a.example/', '--jwt-jwks', 'http://keys.example/jwks'], /^hybridge: --jwt-jwks "http:\/\/keys.example\/jwks" must be an https:\/\/ URL/],
      [['--jwt-issuer', 'https://a.example/', '--jwt-roles', badRoles], /^hybridge: --jwt-roles .*bad-roles\.yaml: role "x": unknown right "Read"/],
      [['--jwt-issuer', 'https://a.example/', '--jwt-clock-skew', '2h'], /^hybridge: --jwt-clock-skew must be at most 1h$/],
      [['--jwt-issuer', 'https://a.example/', '--jwt-key-refresh', 'soon'], /^hybridge: --jwt-key-refresh: "soon" is not a duration/],
    ];
    for (const [flags, expected] of cases) {
      const result = await runCli(['server', '--port', '0', '--data', join(dir, 'never'), ...flags], cleanEnv());
      assert.equal(result.code, 2, `${flags.join(' ')}: ${result.stderr}`);
      assert.match(oneLine(result.stderr) ?? `(not one line) ${result.stderr}`, expected);
    }
  });
});
