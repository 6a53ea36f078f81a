/**
 * Two relay nodes (a cluster on a real redis-server) behind a real haproxy that terminates TLS and
 * speaks PROXY protocol v2 to the nodes (`send-proxy-v2`; its health checks too, which send the
 * LOCAL command), as docs/deployment.md configures it. haproxy has one frontend for everyone
 * (round-robin over both nodes) and one per node, which is each node's --public-url: rendezvous
 * addresses go through the balancer to the node that holds the sender.
 *
 * Clients come from other loopback addresses than haproxy's (127.0.0.1): each goes through a small
 * forwarder that connects to haproxy from 127.0.0.x, standing in for a client host with that
 * address. The test proves the client's address, not haproxy's, is in the listener's
 * remoteEndpoint, in the nodes' log lines, in the per-address limit and in the namespace's IP rule
 * decisions; and the bytes through it all are checked by length and SHA-256.
 */
import assert from 'node:assert/strict';
import { connect as netConnect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { HybridConnectionClient } from '../../src/client/index.js';
import { ManagementClient } from '../../src/client/management-client.js';
import { parseRelayEndpoint } from '../../src/protocol/relay-endpoint.js';
import { waitFor } from '../helpers/async.js';
import { startHaproxy, type BalancerProcess } from '../helpers/load-balancers.js';
import { startTcpForwarder, type TcpForwarder } from '../helpers/proxy-header.js';
import { distinctFreePortsBelowEphemeral, ROOT_KEY, ROOT_RULE, startCluster, type Cluster, type ClusterNode, type LogRecord } from './cluster-kit.js';
import { checkedExchange, endClusterSuite, ExchangeListener } from './peers.js';
import { MiB } from './streams.js';

/** See the first relaying test: the nodes' per-address cap (2) is below what a pre-connecting client holds. */
const NO_PRECONNECT = 0;

/** The tested haproxy configuration (docs/deployment.md shows the same). */
function haproxyConfig(dir: string, ports: { lb: number; perNode: number[]; nodes: number[] }): string {
  const server = (name: string, port: number) => `  server ${name} 127.0.0.1:${port} send-proxy-v2 check check-send-proxy inter 300ms`;
  const perNode = ports.nodes.map(
    (port, i) => `
frontend node_${i}
  bind 127.0.0.1:${ports.perNode[i]} ssl crt ${dir}/combined.pem
  default_backend node_${i}

backend node_${i}
  option httpchk GET '/$hybridge/health'
${server(`n${i}`, port)}
`,
  );
  return `global
  maxconn 2000
  stats socket ${dir}/admin.sock mode 600 level admin

defaults
  mode tcp
  timeout connect 5s
  timeout client 1h
  timeout server 1h

frontend relay
  bind 127.0.0.1:${ports.lb} ssl crt ${dir}/combined.pem
  default_backend nodes

backend nodes
  balance roundrobin
  option httpchk GET '/$hybridge/health'
${ports.nodes.map((port, i) => server(`n${i}`, port)).join('\n')}
${perNode.join('')}`;
}

/** haproxy's own view of its servers (`show stat`): "backend/server" -> "status check_status" (e.g. "UP L7OK"). */
async function serverStates(socketPath: string): Promise<Map<string, string>> {
  const text = await new Promise<string>((resolve, reject) => {
    let out = '';
    const s = netConnect(socketPath, () => s.write('show stat\n'));
    s.on('data', (c: Buffer) => (out += c.toString()));
    s.on('end', () => resolve(out));
    s.on('error', reject);
  });
  const [head = '', ...rows] = text.split('\n');
  const names = head.replace(/^# /, '').split(',');
  const status = names.indexOf('status');
  const check = names.indexOf('check_status');
  const states = new Map<string, string>();
  for (const row of rows) {
    const f = row.split(',');
    if (f.length > check && f[1] !== 'FRONTEND' && f[1] !== 'BACKEND') states.set(`${f[0]}/${f[1]}`, `${f[status]} ${f[check]}`);
  }
  return states;
}

describe('relay cluster behind haproxy (TLS terminated, PROXY protocol v2)', () => {
  let cluster: Cluster;
  let haproxy: BalancerProcess;
  let ports: { lb: number; perNode: number[]; nodes: number[] };
  const listeners: ExchangeListener[] = [];
  const forwarders: TcpForwarder[] = [];

  /** An endpoint that reaches haproxy port `port` from `address`. */
  const from = async (address: string, port = ports.lb) => {
    const f = await startTcpForwarder({ targetPort: port, localAddress: address });
    forwarders.push(f);
    return f.port;
  };
  const connectionString = (port: number, entity: string, key = ROOT_KEY) =>
    `Endpoint=sb://127.0.0.1:${port}/;SharedAccessKeyName=${ROOT_RULE};SharedAccessKey=${key};EntityPath=${entity}`;
  const logsOf = (msg: string) => cluster.nodes.flatMap((n) => n.logged(msg).map((r): LogRecord & { node: string } => ({ ...r, node: n.id })));

  before(async () => {
    const [lb, a, b, ...nodes] = await distinctFreePortsBelowEphemeral(5);
    ports = { lb: lb!, perNode: [a!, b!], nodes };
    cluster = await startCluster({
      hycos: ['pipe'],
      nodes: 2,
      ports: nodes,
      publicUrl: (i) => `wss://127.0.0.1:${ports.perNode[i]}`,
      args: ['--proxy-protocol', '--max-unauthenticated-per-address', '2'],
    });
    haproxy = await startHaproxy((dir) => haproxyConfig(dir, ports), [ports.lb, ...ports.perNode]);
  });
  after(async () => {
    await endClusterSuite(cluster, listeners);
    for (const f of forwarders) await f.close();
    await haproxy?.stop();
  });

  test("haproxy's health checks (PROXY v2 LOCAL, GET /$hybridge/health) pass on both nodes", async () => {
    // Servers start UP before their first check: wait for a passed HTTP check (L7OK) on each.
    const states = await waitFor(
      async () => {
        const s = await serverStates(`${haproxy.dir}/admin.sock`);
        return [...s.values()].length === 4 && [...s.values()].every((v) => v === 'UP L7OK') ? s : undefined;
      },
      10_000,
      'all haproxy servers UP',
      200,
    );
    assert.deepEqual([...states!.keys()].sort(), ['node_0/n0', 'node_1/n1', 'nodes/n0', 'nodes/n1']);
  });

  test("4 connections through haproxy (2 MiB each way, SHA-256): both nodes relay, and the listener's remoteEndpoint and the logs name the client", async () => {
    const tls = { ca: haproxy.ca };
    // The nodes allow 2 unauthenticated connections per client address (the per-address test below);
    // a pre-connecting client holds 2 idle ones per relay host besides the one it uses, so these
    // clients connect on demand.
    const listener = await ExchangeListener.open('pipe-l', connectionString(await from('127.0.0.2'), 'pipe'), tls, NO_PRECONNECT);
    listeners.push(listener);
    const online = await waitFor(() => logsOf('listener online').find((r) => r.listenerId === 'pipe-l'), 5000, 'listener online');
    assert.equal(online!.remote, '127.0.0.2', "the listener's address, not haproxy's");

    const sender = connectionString(await from('127.0.0.3'), 'pipe');
    const trackingIds: string[] = [];
    for (let i = 0; i < 4; i++) {
      const r = await checkedExchange(sender, listeners, { bytes: 2 * MiB, uploadSeed: 10 + i, replySeed: 20 + i, what: `connection ${i}`, tls, timeoutMs: 30_000, preconnect: NO_PRECONNECT });
      assert.equal(r.atListener.remoteEndpoint?.address, '127.0.0.3', `connection ${i}: remoteEndpoint`);
      assert.ok((r.atListener.remoteEndpoint?.port ?? 0) > 0, `connection ${i}: with the client's port`);
      trackingIds.push(r.trackingId);
    }
    const closed = await waitFor(() => {
      const lines = logsOf('connection ended').filter((r) => trackingIds.includes(String(r.trackingId)));
      return lines.length === 4 ? lines : undefined;
    }, 5000, 'four connection ended lines');
    assert.deepEqual(closed!.map((r) => r.remote), ['127.0.0.3', '127.0.0.3', '127.0.0.3', '127.0.0.3']);
    for (const r of closed!) assert.equal(r.bytesToListener, 2 * MiB);
    const relayingNodes = new Set(closed!.map((r) => r.node));
    assert.equal(relayingNodes.size, 2, `both nodes relayed (round-robin at haproxy), so rendezvous reached the sender's node through its frontend: ${[...relayingNodes].join(', ')}`);
  });

  test("a refused sender is logged with the client's address", async () => {
    const client = new HybridConnectionClient({ connectionString: connectionString(await from('127.0.0.6'), 'pipe', 'd3Jvbmcta2V5LTAxMjM0NTY3ODk='), tls: { ca: haproxy.ca }, preconnect: NO_PRECONNECT });
    await assert.rejects(client.createConnection({ retryBudgetMs: 0 }), /401/);
    const line = await waitFor(() => logsOf('sender refused').find((r) => r.remote === '127.0.0.6'), 5000, 'the refusal with 127.0.0.6');
    assert.equal(line!.status, 401);
    assert.equal(logsOf('sender refused').filter((r) => r.remote === '127.0.0.1').length, 0, "never haproxy's address");
  });

  test("the per-address limit counts the client's address, not haproxy's", async () => {
    const node: ClusterNode = cluster.nodes[0]!;
    const open = async (address: string) => {
      const port = await from(address, ports.perNode[0]);
      const socket: TLSSocket = tlsConnect({ host: '127.0.0.1', port, ca: haproxy.ca, servername: 'localhost' });
      let closed = false;
      let text = '';
      socket.on('close', () => (closed = true));
      socket.on('data', (c: Buffer) => (text += c.toString('latin1')));
      socket.on('error', () => undefined);
      await new Promise((resolve, reject) => socket.once('secureConnect', resolve).once('error', reject));
      return { socket, closed: () => closed, text: () => text };
    };
    const held = [await open('127.0.0.4'), await open('127.0.0.4')];
    const third = await open('127.0.0.4');
    await waitFor(() => third.closed() || undefined, 5000, 'the third connection from 127.0.0.4 closed');
    const refusal = await waitFor(() => node.logged('connection refused: too many unauthenticated connections from this address (--max-unauthenticated-per-address)').at(-1), 3000, 'the gate line');
    assert.equal(refusal!.remote, '127.0.0.4');
    const other = await open('127.0.0.5');
    other.socket.write('GET /$hybridge/health HTTP/1.1\r\nHost: relay\r\n\r\n');
    await waitFor(() => other.text().startsWith('HTTP/1.1 200') || undefined, 5000, 'another client is served through the same haproxy');
    assert.ok(held.every((h) => !h.closed()), 'the first two stay');
    for (const h of [...held, third, other]) h.socket.destroy();
  });

  test("the namespace's IP rules decide on the client's address: a denied client gets 403 before authentication, an allowed one relays", async () => {
    // Managed through haproxy from 127.0.0.1 (the nodes take only PROXY protocol connections).
    const management = new ManagementClient({ endpoint: parseRelayEndpoint(`sb://127.0.0.1:${ports.lb}`), credential: { keyName: ROOT_RULE, key: ROOT_KEY }, ca: [haproxy.ca] });
    await management.addIpRule('127.0.0.7', 'Deny');
    try {
      const tls = { ca: haproxy.ca };
      const denied = new HybridConnectionClient({ connectionString: connectionString(await from('127.0.0.7'), 'pipe'), tls, preconnect: NO_PRECONNECT });
      await assert.rejects(denied.createConnection({ retryBudgetMs: 0 }), /403/, 'a valid token from a denied address');
      const deniedBadKey = new HybridConnectionClient({ connectionString: connectionString(await from('127.0.0.7'), 'pipe', 'd3Jvbmcta2V5LTAxMjM0NTY3ODk='), tls, preconnect: NO_PRECONNECT });
      await assert.rejects(deniedBadKey.createConnection({ retryBudgetMs: 0 }), /403/, 'a bad token from a denied address is refused by address, not by its token (never 401)');
      const decisions = await waitFor(() => {
        const lines = logsOf('client refused by the IP rules').filter((r) => r.remote === '127.0.0.7');
        return lines.length >= 2 ? lines : undefined;
      }, 5000, 'two IP rule refusals of 127.0.0.7');
      assert.ok(decisions!.every((r) => r.ipRule === 1), 'the first rule decided');
      assert.equal(logsOf('sender refused').filter((r) => r.remote === '127.0.0.7').length, 0, 'no token of a denied client was looked at');
      assert.equal(logsOf('client refused by the IP rules').filter((r) => r.remote === '127.0.0.1').length, 0, "haproxy's own address is never the one decided on");

      const r = await checkedExchange(connectionString(await from('127.0.0.8'), 'pipe'), listeners, { bytes: MiB, uploadSeed: 40, replySeed: 41, what: 'allowed client', tls, timeoutMs: 30_000, preconnect: NO_PRECONNECT });
      assert.equal(r.atListener.remoteEndpoint?.address, '127.0.0.8');
    } finally {
      await management.removeIpRule('127.0.0.7');
    }
  });
});
