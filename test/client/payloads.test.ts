/**
 * Our HybridConnectionListener and HybridConnectionClient through the hybridge relay: payloads from
 * 1 byte to 64 MiB go out and come back (echo), checked by length and SHA-256 on both sides, over
 * plain WebSocket and over TLS with the relay's self-signed certificate.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { HybridConnectionListener, HybridConnectionStream } from '../../src/client/index.js';
import { patternBytes, sha256 } from '../helpers/data.js';
import { startRelay, type TestRelay } from '../helpers/relay.js';
import { Cleanup, clientFor, digestOf, KiB, listenerFor, MiB, writeAll, type StreamDigest } from './fixtures.js';

/** Echoes every connection back and records what each one received. */
function echoListener(listener: HybridConnectionListener, received: Map<string, Promise<StreamDigest>>): void {
  listener.on('connection', (stream: HybridConnectionStream) => {
    received.set(stream.trackingId, digestOf(stream, 60_000, 'listener read'));
    stream.pipe(stream);
    stream.on('error', () => undefined);
  });
}

const CASES: { tls: boolean; sizes: number[] }[] = [
  { tls: false, sizes: [1, 64 * KiB, MiB, 16 * MiB, 64 * MiB] },
  { tls: true, sizes: [1, 64 * KiB, MiB, 16 * MiB] },
];

for (const { tls, sizes } of CASES) {
  describe(`our listener and our client, echo over ${tls ? 'TLS (wss)' : 'plain ws'}`, () => {
    const cleanup = new Cleanup();
    let relay: TestRelay;
    const received = new Map<string, Promise<StreamDigest>>();

    before(async () => {
      relay = cleanup.add(await startRelay({ tls, hybridConnections: ['echo'] }), (r) => r.stop());
      const listener = cleanup.listener(listenerFor(relay, 'echo'));
      echoListener(listener, received);
      await listener.open();
    });
    after(() => cleanup.run());

    for (const [i, size] of sizes.entries()) {
      it(`${size} bytes arrive and come back intact`, async () => {
        const client = clientFor(relay, 'echo');
        const stream = cleanup.stream(await client.createConnection({ retryBudgetMs: 5000 }));
        const payload = patternBytes(size, 1000 + i);
        const echoed = digestOf(stream, 60_000, 'echo read');
        await writeAll(stream, payload, { chunkSize: MiB, timeoutMs: 60_000 });
        const back = await echoed;
        const atListener = await received.get(stream.trackingId)!;
        const expected = sha256(payload);
        assert.equal(atListener.length, size, 'bytes at the listener');
        assert.equal(atListener.sha256, expected, 'SHA-256 at the listener');
        assert.equal(back.length, size, 'bytes echoed back');
        assert.equal(back.sha256, expected, 'SHA-256 echoed back');
      });
    }
  });
}
