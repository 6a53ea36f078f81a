/**
 * `hybridge server` behind a real nginx that terminates TLS and proxies HTTP and WebSocket upgrades
 * with X-Forwarded-For / X-Forwarded-Proto, as docs/deployment.md configures it. One relay trusts
 * nginx (--trusted-proxy 127.0.0.1) and has no --public-url: it must take the client from
 * X-Forwarded-For (the rightmost address not itself trusted, so a client's own X-Forwarded-For
 * cannot spoof it) and give listeners wss:// rendezvous addresses although it serves plain HTTP
 * itself. The other relay does not trust nginx: the headers are ignored and nginx is the client.
 * Clients come from 127.0.0.x through small forwarders (test/helpers/proxy-header.ts), standing in
 * for client hosts; the bytes are checked by length and SHA-256.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { waitFor } from '../helpers/async.js';
import { startNginx, type BalancerProcess } from '../helpers/load-balancers.js';
import { spawnHybridge, type RunningProcess } from '../helpers/processes.js';
import { startTcpForwarder, type TcpForwarder } from '../helpers/proxy-header.js';
import { distinctFreePortsBelowEphemeral, ROOT_KEY, ROOT_RULE } from '../cluster/cluster-kit.js';
import { checkedExchange, ExchangeListener } from '../cluster/peers.js';
import { MiB } from '../cluster/streams.js';
import { cleanEnv } from '../relay/management-cli-kit.js';

/** The tested nginx configuration (docs/deployment.md shows the same server block). */
function nginxConfig(dir: string, servers: { listen: number; relay: number }[]): string {
  const server = ({ listen, relay }: { listen: number; relay: number }) => `
  server {
    listen 127.0.0.1:${listen} ssl;
    ssl_certificate ${dir}/cert.pem;
    ssl_certificate_key ${dir}/key.pem;
    location / {
      proxy_pass http://127.0.0.1:${relay};
      proxy_http_version 1.1;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection $connection_upgrade;
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_buffering off;
      proxy_request_buffering off;
      proxy_read_timeout 1h;
      proxy_send_timeout 1h;
    }
  }`;
  return `worker_processes 1;
events { worker_connections 512; }
http {
  access_log off;
  client_body_temp_path ${dir}/client-body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  map $http_upgrade $connection_upgrade { default upgrade; '' close; }
${servers.map(server).join('\n')}
}
`;
}

interface Relay {
  proc: RunningProcess;
  records(): Record<string, unknown>[];
}

function startRelayProcess(port: number, args: string[], dataDir: string): Relay {
  const proc = spawnHybridge(['server', '--host', '127.0.0.1', '--port', String(port), '--hyco', 'pipe', '--hyco', 'web', '--root-key', ROOT_KEY, '--log-format', 'json', ...args], {
    env: cleanEnv({ HYBRIDGE_DATA_DIR: dataDir }),
  });
  const records = () =>
    proc
      .output()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  return { proc, records };
}

describe('relay behind nginx (TLS terminated, X-Forwarded-For from a trusted and an untrusted peer)', () => {
  let nginx: BalancerProcess;
  let trusting: Relay;
  let untrusting: Relay;
  let ports: { trusted: number; untrusted: number; relayT: number; relayU: number };
  const dataRoot = mkdtempSync(join(tmpdir(), 'hybridge-nginx-relays-'));
  const listeners: ExchangeListener[] = [];
  const forwarders: TcpForwarder[] = [];

  const from = async (address: string, port: number) => {
    const f = await startTcpForwarder({ targetPort: port, localAddress: address });
    forwarders.push(f);
    return f.port;
  };
  const connectionString = (port: number, entity: string) => `Endpoint=sb://127.0.0.1:${port}/;SharedAccessKeyName=${ROOT_RULE};SharedAccessKey=${ROOT_KEY};EntityPath=${entity}`;

  before(async () => {
    const [trusted, untrusted, relayT, relayU] = await distinctFreePortsBelowEphemeral(4);
    ports = { trusted: trusted!, untrusted: untrusted!, relayT: relayT!, relayU: relayU! };
    trusting = startRelayProcess(ports.relayT, ['--trusted-proxy', '127.0.0.1'], join(dataRoot, 't'));
    untrusting = startRelayProcess(ports.relayU, ['--public-url', `wss://127.0.0.1:${ports.untrusted}`], join(dataRoot, 'u'));
    await Promise.all([trusting, untrusting].map((r) => r.proc.waitForOutput(/"msg":"relay listening"/, 20_000)));
    nginx = await startNginx((dir) => nginxConfig(dir, [{ listen: ports.trusted, relay: ports.relayT }, { listen: ports.untrusted, relay: ports.relayU }]), [ports.trusted, ports.untrusted]);
  });
  after(async () => {
    for (const l of listeners) await l.close();
    for (const f of forwarders) await f.close();
    await nginx?.stop();
    await Promise.all([trusting, untrusting].map((r) => r?.proc.stop('SIGTERM', 3000)));
    rmSync(dataRoot, { recursive: true, force: true });
  });

  test('trusted: 1 MiB each way (SHA-256) with the client in remoteEndpoint and logs, over wss:// rendezvous without --public-url', async () => {
    const tls = { ca: nginx.ca };
    const listener = await ExchangeListener.open('t-l', connectionString(await from('127.0.0.2', ports.trusted), 'pipe'), tls);
    listeners.push(listener);
    const online = await waitFor(() => trusting.records().find((r) => r.msg === 'listener online'), 5000, 'listener online');
    assert.equal(online!.remote, '127.0.0.2');
    const r = await checkedExchange(connectionString(await from('127.0.0.3', ports.trusted), 'pipe'), [listener], { bytes: MiB, uploadSeed: 1, replySeed: 2, what: 'trusted', tls, timeoutMs: 30_000 });
    assert.equal(r.atListener.remoteEndpoint?.address, '127.0.0.3');
    assert.equal(r.atListener.remoteEndpoint?.port, 0, 'X-Forwarded-For carries no port');
    const closed = await waitFor(() => trusting.records().find((l) => l.msg === 'connection ended' && l.trackingId === r.trackingId), 5000, 'connection ended');
    assert.equal(closed!.remote, '127.0.0.3');
  });

  test("trusted: a client's own X-Forwarded-For does not spoof its address", async () => {
    const port = await from('127.0.0.4', ports.trusted);
    const status = await new Promise<number>((resolve, reject) => {
      const req = httpsRequest({ host: '127.0.0.1', port, path: '/web/spoof', ca: nginx.ca, servername: 'localhost', headers: { 'X-Forwarded-For': '203.0.113.1', ServiceBusAuthorization: 'bad' }, timeout: 5000 }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end();
    });
    assert.equal(status, 401);
    const line = await waitFor(() => trusting.records().find((r) => r.msg === 'http request refused' && String(r.reason).length > 0 && r.remote !== undefined && r.status === 401), 5000, 'the refusal');
    assert.equal(line!.remote, '127.0.0.4', 'the address nginx saw, not the one the client wrote');
  });

  test('untrusted: the headers are ignored and nginx is the client', async () => {
    const tls = { ca: nginx.ca };
    const listener = await ExchangeListener.open('u-l', connectionString(ports.untrusted, 'pipe'), tls);
    listeners.push(listener);
    const r = await checkedExchange(connectionString(await from('127.0.0.3', ports.untrusted), 'pipe'), [listener], { bytes: MiB, uploadSeed: 3, replySeed: 4, what: 'untrusted', tls, timeoutMs: 30_000 });
    assert.equal(r.atListener.remoteEndpoint?.address, '127.0.0.1', "nginx's address: its X-Forwarded-For (127.0.0.3) is not trusted");
    const closed = await waitFor(() => untrusting.records().find((l) => l.msg === 'connection ended' && l.trackingId === r.trackingId), 5000, 'connection ended');
    assert.equal(closed!.remote, '127.0.0.1');
  });
});
