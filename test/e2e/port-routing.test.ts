/**
 * Port-name-aware routing (azure-relay-bridge#102, Azure/azure-relay#52): several listeners on one
 * hybrid connection serving different logical port names. bridge -T listeners announce their port
 * names (Hybridge-Ports), bridge -L senders name theirs (Hybridge-Port):
 * - the hybridge relay routes each sender to a listener that serves its port: no listener ever sees
 *   a port it does not serve;
 * - behind a relay that cannot route (the hybridge relay with portRouting off, standing in for Azure
 *   Relay, which this machine cannot reach), a sender refused with an unknown port tries the other
 *   listeners through Microsoft-Relay-DisallowedListeners, and every connection still gets through;
 * - a mixed pool with an azbridge-style listener (announces nothing) keeps working.
 * Every connection's echo is checked by length and SHA-256, and the targets count who served whom.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { connect } from 'node:net';
import { HybridConnectionListener, type HybridConnectionStream } from '../../src/client/index.js';
import { encodePreambleReply, PreambleDecoder, PreambleMode } from '../../src/protocol/azbridge-preamble.js';
import { readDecoded } from '../../src/forwarding/read-decoded.js';
import { endBridgeSuite, expectClosed, startBridge, track } from '../bridge/bridge-kit.js';
import { startTaggedEcho, trickleExchange, type ClientResult, type TaggedTarget } from '../bridge/pools/pool-kit.js';
import { freePort, waitFor } from '../helpers/async.js';
import type { RunningProcess } from '../helpers/processes.js';
import { startRelay, type TestRelay } from '../helpers/relay.js';
import { expectRefusal, hcUrl } from '../relay/protocol-peers.js';

const PER_PORT = 20;
const SIZE = 32 * 1024;

describe('port-name-aware routing: listeners of different port names on one hybrid connection', () => {
  let routing: TestRelay;
  let azureLike: TestRelay;

  before(async () => {
    [routing, azureLike] = await Promise.all([
      startRelay({ hybridConnections: ['pr-two', 'pr-mixed', 'pr-none'] }),
      startRelay({ hybridConnections: ['pr-two'], portRouting: false }),
    ]);
  });
  after(async () => {
    await endBridgeSuite(routing);
    await azureLike?.stop();
  });

  interface TwoPorts {
    targets: { alpha: TaggedTarget; beta: TaggedTarget };
    listeners: RunningProcess[];
    front: RunningProcess;
    ports: { alpha: number; beta: number };
  }

  /** bridge -T for alpha and for beta (separate processes) and one bridge -L for both names. */
  async function twoPortPool(relay: TestRelay, hyco: string): Promise<TwoPorts> {
    const [alpha, beta] = await Promise.all([startTaggedEcho('alpha'), startTaggedEcho('beta')]);
    const cs = relay.connectionString();
    const listeners = [await startBridge(['-x', cs, '-T', `${hyco}:alpha/127.0.0.1:${alpha.port}`]), await startBridge(['-x', cs, '-T', `${hyco}:beta/127.0.0.1:${beta.port}`])];
    const ports = { alpha: await freePort(), beta: await freePort() };
    const front = await startBridge(['-x', cs, '-L', `${ports.alpha}/alpha:${hyco}`, '-L', `${ports.beta}/beta:${hyco}`]);
    return { targets: { alpha, beta }, listeners, front, ports };
  }

  /**
   * PER_PORT concurrent connections for alpha, then PER_PORT for beta; ids < 1000 are alpha's, the
   * rest beta's. One name at a time: with both at once, the front accepts its two listening sockets
   * in turn, and a relay's round robin over two listeners would pair each name with its listener by chance.
   */
  async function loadBoth(ports: { alpha: number; beta: number }): Promise<ClientResult[]> {
    const batch = (port: number, firstId: number) => Promise.all(Array.from({ length: PER_PORT }, (_, i) => trickleExchange(port, firstId + i, SIZE, { pieces: 2, gapMs: 10 })));
    return [...(await batch(ports.alpha, 0)), ...(await batch(ports.beta, 1000))];
  }

  function assertAllServedRight(results: ClientResult[], targets: { alpha: TaggedTarget; beta: TaggedTarget }): void {
    const failed = results.filter((r) => !r.ok);
    assert.equal(failed.length, 0, `failed: ${failed.map((r) => `${r.id}: ${r.error}`).join('; ')}`);
    assert.equal(results.length, 2 * PER_PORT);
    assert.deepEqual([...targets.alpha.ids].sort((a, b) => a - b), [...Array(PER_PORT).keys()]);
    assert.deepEqual([...targets.beta.ids].sort((a, b) => a - b), [...Array(PER_PORT).keys()].map((i) => 1000 + i));
  }

  const refusalsIn = (proc: RunningProcess) => proc.output().split('\n').filter((l) => /connection failed/.test(l) && /end=unknown-port/.test(l)).length;

  it('on the hybridge relay, every sender reaches a listener of its port at once (no listener sees a port it lacks)', async () => {
    const pool = await twoPortPool(routing, 'pr-two');
    const results = await loadBoth(pool.ports);
    assertAllServedRight(results, pool.targets);
    for (const listener of pool.listeners) assert.equal(refusalsIn(listener), 0, `a listener refused a port: ${listener.output().slice(-2000)}`);
    assert.doesNotMatch(pool.front.output(), /does not serve this port/);
    for (const p of [pool.front, ...pool.listeners]) p.child.kill('SIGTERM');
    await Promise.all([pool.front, ...pool.listeners].map((p) => p.exited));
  });

  it('behind a relay that cannot route (portRouting off, as Azure), refused senders try the other listener and all get through', async () => {
    const pool = await twoPortPool(azureLike, 'pr-two');
    const results = await loadBoth(pool.ports);
    assertAllServedRight(results, pool.targets);
    // The retry path was taken: listeners refused ports they lack, and the front tried another listener.
    // (Log lines come through pipes: wait, bounded, until both sides have told.)
    const refused = () => pool.listeners.reduce((n, l) => n + refusalsIn(l), 0);
    const retries = () => pool.front.output().split('\n').filter((l) => /does not serve this port; trying another listener/.test(l)).length;
    await waitFor(() => refused() > 0 && refused() === retries(), 5000, 'as many retries as refusals, at least one').catch(() => undefined);
    assert.ok(refused() > 0, 'round robin over two listeners sends some senders to the wrong one first');
    assert.equal(retries(), refused(), 'each refusal was followed by exactly one retry elsewhere');
    for (const p of [pool.front, ...pool.listeners]) p.child.kill('SIGTERM');
    await Promise.all([pool.front, ...pool.listeners].map((p) => p.exited));
  });

  it('a mixed pool with an azbridge-style listener (no announcement) keeps working: its port goes to it', async () => {
    const [alpha, beta] = await Promise.all([startTaggedEcho('alpha'), startTaggedEcho('beta')]);
    const hybridgeListener = await startBridge(['-x', routing.connectionString(), '-T', `pr-mixed:alpha/127.0.0.1:${alpha.port}`]);
    const azbridgeStyle = track(await azbridgeStyleListener(routing, 'pr-mixed', 'beta', beta.port));
    const ports = { alpha: await freePort(), beta: await freePort() };
    const front = await startBridge(['-x', routing.connectionString(), '-L', `${ports.alpha}/alpha:pr-mixed`, '-L', `${ports.beta}/beta:pr-mixed`]);
    const results = await loadBoth(ports);
    assertAllServedRight(results, { alpha, beta });
    assert.equal(refusalsIn(hybridgeListener), 0, 'beta never went to the listener that announced alpha only');
    assert.equal(azbridgeStyle.foreign, 0, 'the azbridge-style listener saw beta only');
    assert.equal(azbridgeStyle.served, PER_PORT);
    await azbridgeStyle.close();
    front.child.kill('SIGTERM');
    hybridgeListener.child.kill('SIGTERM');
    await Promise.all([front.exited, hybridgeListener.exited]);
  });

  it('a port no listener serves: the mismatch is reported by name on both sides at once, then the relay answers 404 naming the port', async () => {
    const alpha = await startTaggedEcho('alpha');
    const listener = await startBridge(['-x', routing.connectionString(), '-T', `pr-none:alpha/127.0.0.1:${alpha.port}`]);
    const port = await freePort();
    const front = await startBridge(['-x', routing.connectionString(), '-L', `${port}/gamma:pr-none`]);
    const started = Date.now();
    const closed = await expectClosed(port);
    assert.equal(closed.received, 0);
    assert.ok(Date.now() - started < 10_000, 'no 30 s wait for a listener after the only one refused the port');
    await front.waitForOutput(/connection failed hyco=pr-none port=gamma .*end=unknown-port/, 5000);
    await listener.waitForOutput(/connection failed hyco=pr-none .*port=gamma .*end=unknown-port/, 5000);
    assert.equal(refusalsIn(listener), 1, 'offered once, then passed over');
    // The relay's answer once every listener is passed over (what the front got on its second try).
    const id = routing.server.local.registry.channels('pr-none')[0]!.listenerId;
    const refusal = await expectRefusal(hcUrl(routing, 'pr-none', 'connect'), { ServiceBusAuthorization: routing.token('pr-none'), 'Hybridge-Port': 'gamma', 'Microsoft-Relay-DisallowedListeners': id });
    assert.equal(refusal.status, 404);
    assert.match(refusal.message, /^No listener of "pr-none" serves port "gamma"\. TrackingId:/);
    const malformed = await expectRefusal(hcUrl(routing, 'pr-none', 'connect'), { ServiceBusAuthorization: routing.token('pr-none'), 'Hybridge-Port': '%E0%A4%A' });
    assert.equal(malformed.status, 400);
    front.child.kill('SIGTERM');
    listener.child.kill('SIGTERM');
    await Promise.all([front.exited, listener.exited]);
  });
});

/**
 * An azbridge remote side as azbridge 0.x is on the wire: a control channel without Hybridge-Ports;
 * a preamble for its one port name is answered `01 00 00` and piped to its target, any other name is closed
 * without a reply (what azbridge does).
 */
async function azbridgeStyleListener(relay: TestRelay, hyco: string, portName: string, targetPort: number) {
  const listener = new HybridConnectionListener({ connectionString: relay.connectionString(), entityPath: hyco });
  const state = { served: 0, foreign: 0, close: () => listener.close() };
  listener.on('error', () => undefined);
  listener.on('connection', (stream: HybridConnectionStream) => void serve(stream).catch(() => stream.destroy()));
  async function serve(stream: HybridConnectionStream): Promise<void> {
    stream.on('error', () => undefined);
    const decoder = new PreambleDecoder();
    const outcome = await readDecoded(stream, (chunk) => decoder.push(chunk), 10_000);
    if (outcome.status !== 'complete' || !outcome.value.ok || outcome.value.preamble.mode !== PreambleMode.Stream) return void stream.destroy();
    if (outcome.value.preamble.portName !== portName) {
      state.foreign++;
      stream.end();
      return;
    }
    state.served++;
    await stream.sendMessage(encodePreambleReply({ kind: 'accepted', mode: PreambleMode.Stream }));
    const target = connect({ host: '127.0.0.1', port: targetPort, allowHalfOpen: true });
    target.on('error', () => stream.destroy());
    stream.pipe(target);
    target.pipe(stream);
  }
  await listener.open();
  return state;
}
