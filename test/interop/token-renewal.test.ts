/**
 * Token expiry and renewal on the listener control channel (protocol reference §2.4, §3.2): a
 * channel whose token runs out is closed with 1008; a `renewToken` before expiry keeps it open; a
 * `renewToken` with a bad token closes it with 1008. hyco-ws renews only hourly, so renewals are
 * sent by hand over a raw control channel, and hyco-ws shows the expiry and its reconnect.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createSasToken } from '../../src/protocol/sas-token.js';
import { delay, waitFor, withTimeout } from '../helpers/async.js';
import { patternBytes } from '../helpers/data.js';
import { ROOT_KEY, ROOT_RULE, type TestRelay } from '../helpers/relay.js';
import { acceptAndEcho, assertBinaryEcho, openSender, RawListener, startRelayWithHealthyLink, stopRelayWithHealthyLink, type HealthyLink } from '../relay/protocol-peers.js';
import { loadHycoWs, messageBytes } from './hyco-types.js';

/** A root token for `entity` that expires `seconds` (whole seconds, at least) from now. */
function tokenExpiringIn(relay: TestRelay, entity: string, seconds: number, key = ROOT_KEY): { token: string; expiresAtMs: number } {
  const se = Math.ceil(Date.now() / 1000) + seconds;
  return { token: createSasToken(`http://127.0.0.1:${relay.port}/${entity}`, ROOT_RULE, key, se), expiresAtMs: se * 1000 };
}

describe('listener token expiry and renewal', () => {
  let relay: TestRelay;
  let healthy: HealthyLink;

  before(async () => ({ relay, healthy } = await startRelayWithHealthyLink({ hybridConnections: ['renew', 'healthy'] })));
  after(() => stopRelayWithHealthyLink(relay, healthy));

  it('closes a hyco-ws control channel with 1008 at token expiry; hyco-ws then reconnects with a fresh token', async () => {
    const WS = loadHycoWs();
    const listenUri = `${relay.wsBase}/$hc/renew?sb-hc-action=listen`;
    let issued = 0;
    const server = WS.createRelayedServer({ server: listenUri, token: () => (issued++, WS.createRelayToken(listenUri, ROOT_RULE, ROOT_KEY, 2)) }, (ws) => {
      ws.on('message', (data: string | Buffer) => ws.send(data, { binary: typeof data !== 'string' }));
      ws.on('error', () => undefined);
    });
    server.on('error', () => undefined);
    try {
      await withTimeout(new Promise<void>((resolve) => server.once('listening', () => resolve())), 5000, 'hyco-ws listening');
      const first = server.controlChannel;
      const closed = withTimeout(new Promise<number>((resolve) => first.once('close', (code: number) => resolve(code))), 5000, 'expiry close');
      const started = Date.now();
      assert.equal(await closed, 1008);
      assert.ok(Date.now() - started >= 500, 'the channel lived until its token ran out');
      // hyco-ws reconnects at once with a new token from its function, and serves again.
      await waitFor(() => issued >= 2 && relay.server.registry.count('renew') === 1, 5000, 'hyco-ws back online');
      const sender = WS.relayedConnect(`${relay.wsBase}/$hc/renew?sb-hc-action=connect`, relay.token('renew'));
      try {
        const reply = await withTimeout(
          new Promise<string | Buffer>((resolve, reject) => {
            sender.on('error', reject);
            sender.on('open', () => sender.send('after expiry'));
            sender.on('message', (data: string | Buffer) => resolve(data));
          }),
          5000,
          'echo after reconnect',
        );
        assert.deepEqual(messageBytes(reply), { type: 'text', bytes: Buffer.from('after expiry') });
      } finally {
        sender.terminate();
      }
    } finally {
      server.close();
    }
    await healthy.check();
  });

  it('keeps a control channel open past its first expiry after a renewToken, and it keeps serving', async () => {
    const first = tokenExpiringIn(relay, 'renew', 2);
    const listener = await RawListener.open(relay, 'renew', { token: first.token, onAccept: (a, l) => acceptAndEcho(a, l) });
    try {
      await delay(Math.max(0, first.expiresAtMs - Date.now() - 1200));
      listener.sendJson({ renewToken: { token: tokenExpiringIn(relay, 'renew', 60).token } });
      // Well past the first token's expiry, the channel is still up and still pairs senders.
      await delay(Math.max(0, first.expiresAtMs - Date.now()) + 1000);
      assert.equal(listener.isOpen, true, `control channel closed (${listener.closeCode} ${listener.closeReason})`);
      const sender = await openSender(relay, 'renew');
      try {
        await assertBinaryEcho(sender, patternBytes(100_000, 77));
      } finally {
        sender.terminate();
      }
      assert.equal(listener.isOpen, true);
    } finally {
      await listener.close();
    }
    await healthy.check();
  });

  it('closes the control channel with 1008 when a renewToken carries a bad token (wrong key, garbage, other entity, no Listen right, expired)', async () => {
    const sendOnly = await relay.server.store.putRule('renew', 'sendonly', ['Send']);
    const sendOnlyToken = relay.token('renew', { keyName: 'sendonly', key: sendOnly.primaryKey });
    const expired = createSasToken(`http://127.0.0.1:${relay.port}/renew`, ROOT_RULE, ROOT_KEY, Math.floor(Date.now() / 1000) - 5);
    for (const bad of [tokenExpiringIn(relay, 'renew', 60, 'not-the-key').token, 'SharedAccessSignature garbage', tokenExpiringIn(relay, 'other', 60).token, sendOnlyToken, expired]) {
      const listener = await RawListener.open(relay, 'renew');
      try {
        listener.sendJson({ renewToken: { token: bad } });
        const { code } = await listener.waitClosed();
        assert.equal(code, 1008, `renewToken with ${bad.slice(0, 40)}…`);
      } finally {
        listener.terminate();
      }
    }
    await healthy.check();
  });
});
