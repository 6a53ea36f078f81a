/**
 * Connection affinity through `hybridge bridge -H` (processes) over a plain and a TLS relay: a
 * target with a two-step, NTLM-like handshake bound to its TCP connection (the challenge it issued
 * on that connection must come back on it, and then the connection is authenticated) works with
 * ConnectionAffinity (config key) and --http-affinity (flag), and fails without: two clients'
 * handshakes then share one target connection. The client's connection closing closes its target
 * connection.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { Agent as HttpAgent, request as httpRequest, type RequestListener } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { endBridgeSuite, expectUsageErrors, startBridge } from '../bridge/bridge-kit.js';
import { startHttpServer, trustRelay } from '../bridge/http-scripted-target.js';
import { waitFor, withTimeout } from '../helpers/async.js';
import { startRelay, type TestRelay } from '../helpers/relay.js';
import { scratchDir } from '../helpers/scratch.js';

interface HandshakeTarget {
  port: number;
  /** Target-side sockets, open or closed, in the order they connected. */
  sockets: Socket[];
  /** The connection that issued each challenge. */
  byChallenge: Map<string, Socket>;
  close(): Promise<void>;
}

/** The target: `Negotiate step1` gets a challenge for this connection; `Negotiate answer-<challenge>` on the same connection authenticates it. */
async function startHandshakeTarget(): Promise<HandshakeTarget> {
  const state = new WeakMap<Socket, { challenge?: string; user?: string }>();
  const sockets: Socket[] = [];
  const byChallenge = new Map<string, Socket>();
  const handler: RequestListener = (req, res) => {
    const s = state.get(req.socket) ?? {};
    state.set(req.socket, s);
    const auth = req.headers.authorization ?? '';
    req.resume();
    const answer = (status: number, text: string, headers: Record<string, string> = {}) => {
      res.writeHead(status, { 'Content-Type': 'text/plain', ...headers });
      res.end(text);
    };
    if (auth.startsWith('Negotiate step1 ')) {
      s.challenge = randomBytes(8).toString('hex');
      s.user = undefined;
      byChallenge.set(s.challenge, req.socket);
      return answer(401, 'challenge', { 'WWW-Authenticate': `Negotiate ${s.challenge}` });
    }
    const m = /^Negotiate answer-([0-9a-f]+) (\w+)$/.exec(auth);
    if (m) {
      if (m[1] !== s.challenge) return answer(401, 'this connection did not issue that challenge');
      s.user = m[2];
      return answer(200, `welcome ${s.user}`);
    }
    if (s.user) return answer(200, `still ${s.user}`);
    answer(401, 'not authenticated', { 'WWW-Authenticate': 'Negotiate' });
  };
  const started = await startHttpServer(handler);
  started.server.on('connection', (socket: Socket) => sockets.push(socket));
  return { ...started, sockets, byChallenge };
}

interface Reply {
  status: number;
  text: string;
  challenge?: string;
}

for (const tls of [false, true]) {
  describe(`-H connection affinity (${tls ? 'TLS' : 'plain'} relay)`, () => {
    let relay: TestRelay;
    let target: HandshakeTarget;
    const agents: (HttpAgent | HttpsAgent)[] = [];

    /** One HTTP client with its own single keep-alive connection to the relay. */
    const client = () => {
      const agent = tls ? new HttpsAgent({ keepAlive: true, maxSockets: 1, ca: relay.ca }) : new HttpAgent({ keepAlive: true, maxSockets: 1 });
      agents.push(agent);
      const send = (entity: string, authorization?: string) =>
        withTimeout(
          new Promise<Reply>((resolve, reject) => {
            const headers: Record<string, string> = { ServiceBusAuthorization: relay.token(entity) };
            if (authorization) headers.Authorization = authorization;
            const req = (tls ? httpsRequest : httpRequest)(`${relay.httpBase}/${entity}/secure`, { agent, headers }, (res) => {
              let text = '';
              res.setEncoding('utf8');
              res.on('data', (c: string) => (text += c));
              res.on('end', () => resolve({ status: res.statusCode ?? 0, text, challenge: /^Negotiate (\w+)$/.exec(String(res.headers['www-authenticate'] ?? ''))?.[1] }));
              res.on('error', reject);
            });
            req.on('error', reject);
            req.end();
          }),
          10_000,
          `request to ${entity}`,
        );
      return { agent, send };
    };

    /** Two clients interleave their handshakes: A starts, B starts and finishes, A finishes, then A goes on without credentials. */
    async function interleave(entity: string): Promise<{ a1: Reply; a2: Reply; a3: Reply; b2: Reply; a: ReturnType<typeof client> }> {
      const a = client();
      const b = client();
      const a1 = await a.send(entity, 'Negotiate step1 alice');
      assert.equal(a1.status, 401);
      assert.ok(a1.challenge);
      const b1 = await b.send(entity, 'Negotiate step1 bob');
      const b2 = await b.send(entity, `Negotiate answer-${b1.challenge} bob`);
      const a2 = await a.send(entity, `Negotiate answer-${a1.challenge} alice`);
      const a3 = await a.send(entity);
      return { a1, a2, a3, b2, a };
    }

    before(async () => {
      relay = await startRelay({ tls, hybridConnections: ['af-yaml', 'af-off', 'af-cli'] });
      target = await startHandshakeTarget();
      const dir = scratchDir('hybridge-affinity-');
      const { env } = trustRelay(relay);
      const config = join(dir, 'affinity.yml');
      writeFileSync(config, ['RemoteForward:', '  - RelayName: af-yaml', '    ConnectionAffinity: true', '    Bindings:', `      - { Http: true, PortName: http, Host: 127.0.0.1, HostPort: ${target.port} }`, ''].join('\n'));
      await startBridge(['-x', relay.connectionString(), '-f', config, '-H', `af-off:http/127.0.0.1:${target.port}`], { env });
      await startBridge(['-x', relay.connectionString(), '--http-affinity', '-H', `af-cli:http/127.0.0.1:${target.port}`], { env });
    });

    after(async () => {
      for (const agent of agents) agent.destroy();
      await endBridgeSuite(relay);
    });

    for (const entity of ['af-yaml', 'af-cli']) {
      test(`with affinity (${entity === 'af-yaml' ? 'ConnectionAffinity: true' : '--http-affinity'}) each client keeps its own target connection: both handshakes succeed`, async () => {
        const { a1, a2, a3, b2, a } = await interleave(entity);
        assert.deepEqual([b2.status, b2.text], [200, 'welcome bob']);
        assert.deepEqual([a2.status, a2.text], [200, 'welcome alice']);
        assert.deepEqual([a3.status, a3.text], [200, 'still alice'], "A's connection stays A's");
        // A's client connection closes: the relay tells the listener, which closes A's target connection.
        const aTarget = target.byChallenge.get(a1.challenge!)!;
        assert.equal(aTarget.destroyed, false);
        a.agent.destroy();
        await waitFor(() => aTarget.destroyed, 5000, "A's target connection closes with A's client connection");
      });
    }

    test('without affinity the handshake fails: the challenge comes back on a connection that did not issue it', async () => {
      const { a2, a3 } = await interleave('af-off');
      assert.equal(a2.status, 401);
      assert.equal(a2.text, 'this connection did not issue that challenge');
      // And worse: the shared connection is authenticated as the other client.
      assert.deepEqual([a3.status, a3.text], [200, 'still bob']);
    });
  });
}

describe('-H connection affinity: configuration errors', () => {
  test('--http-affinity without -H, and ConnectionAffinity on a TCP binding, are refused with one line and exit 2', async () => {
    const dir = scratchDir('hybridge-affinity-config-');
    const tcp = join(dir, 'tcp.yml');
    writeFileSync(tcp, ['RemoteForward:', '  - RelayName: db', '    Host: 127.0.0.1', '    HostPort: 5432', '    ConnectionAffinity: true', ''].join('\n'));
    const cs = 'Endpoint=sb://relay.example/;SharedAccessKeyName=k;SharedAccessKey=a2V5';
    await expectUsageErrors([
      ['--http-affinity without -H', ['-x', cs, '--http-affinity', '-T', 'db:5432'], /^hybridge: --http-affinity applies to -H forwarders, and there is none on the command line/],
      ['ConnectionAffinity on TCP', ['-x', cs, '-f', tcp], /^hybridge: .*tcp\.yml:5:\d+: ConnectionAffinity applies only to bindings with Http: true$/],
    ]);
  });
});
