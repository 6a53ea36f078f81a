import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Server } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { TLSSocket } from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { generateSelfSignedCertificate } from '../../src/relay/self-signed.js';
import { openWebSocket, type TlsClientOptions } from '../../src/websocket/client-handshake.js';
import { acceptUpgrade } from '../../src/websocket/server-handshake.js';

/** A TLS WebSocket server that answers every upgrade and then closes the socket. */
async function tlsUpgradeServer(cert: { cert: string; key: string }): Promise<{ server: Server; port: number }> {
  const server = createServer({ cert: cert.cert, key: cert.key });
  server.on('upgrade', (req, socket: Socket) => {
    socket.on('error', () => undefined);
    acceptUpgrade(req, socket);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, port: (server.address() as AddressInfo).port };
}

interface Handshake {
  resumed: boolean;
  peerCertificate: Buffer;
}

async function open(port: number, trust: TlsClientOptions): Promise<Handshake> {
  const opened = await openWebSocket(`wss://127.0.0.1:${port}/x`, { timeoutMs: 10_000, tls: trust });
  const socket = opened.socket as TLSSocket;
  const handshake = { resumed: socket.isSessionReused(), peerCertificate: socket.getPeerCertificate().raw };
  // TLS 1.3 tickets arrive after the handshake; give them time to be remembered.
  await new Promise((resolve) => setTimeout(resolve, 50));
  socket.destroy();
  return handshake;
}

describe('TLS reuse in the WebSocket client', () => {
  const certA = generateSelfSignedCertificate(['127.0.0.1'], 'relay A');
  const certB = generateSelfSignedCertificate(['127.0.0.1'], 'relay B');
  let a: { server: Server; port: number };
  before(async () => {
    a = await tlsUpgradeServer(certA);
  });
  after(() => a.server.close());

  it('resumes the TLS session on the next connection to the same relay', async () => {
    const trust = { ca: certA.cert };
    const first = await open(a.port, trust);
    assert.equal(first.resumed, false);
    const second = await open(a.port, trust);
    assert.equal(second.resumed, true);
    const third = await open(a.port, trust);
    assert.equal(third.resumed, true);
  });

  it('never offers a session to a client that trusts something else: the certificate is checked again', async () => {
    await open(a.port, { ca: certA.cert });
    await assert.rejects(openWebSocket(`wss://127.0.0.1:${a.port}/x`, { timeoutMs: 10_000, tls: { ca: certB.cert } }), /self[- ]signed|unable to verify|certificate/i);
  });

  it('falls back to a full handshake when the server behind the address changed its certificate', async () => {
    const trust = { ca: [certA.cert, certB.cert] };
    const b = await tlsUpgradeServer(certA);
    const port = b.port;
    await open(port, trust);
    b.server.close();
    b.server.closeAllConnections();
    const replacement = createServer({ cert: certB.cert, key: certB.key });
    replacement.on('upgrade', (req, socket: Socket) => acceptUpgrade(req, socket));
    replacement.listen(port, '127.0.0.1');
    await once(replacement, 'listening');
    try {
      const socket = await open(port, trust);
      assert.equal(socket.resumed, false);
      assert.equal(socket.peerCertificate.equals(new X509Certificate(certB.cert).raw), true);
    } finally {
      replacement.close();
    }
  });
});
