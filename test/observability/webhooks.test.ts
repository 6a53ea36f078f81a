import assert from 'node:assert/strict';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, test } from 'node:test';
import { parseWebhookUrl, redactUrl, Webhook, WebhookUrlError } from '../../src/observability/events/webhooks.js';
import type { RelayEvent } from '../../src/observability/events/relay-event.js';
import { silentLogger } from '../../src/util/logger.js';
import { waitFor } from '../helpers/async.js';

function online(n: number): RelayEvent {
  return { event: 'NewListenerRegistered', time: new Date().toISOString(), node: 'n1', hyco: `h${n}`, listenerId: `l${n}` };
}

describe('webhooks', () => {
  test('a stuck receiver never holds the relay: the queue is bounded, the oldest waiting events are dropped and counted, the rest arrive in order', async () => {
    const received: string[] = [];
    const held: ServerResponse[] = [];
    let hold = true;
    const server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        received.push((JSON.parse(body) as RelayEvent).hyco!);
        if (hold) held.push(res);
        else res.writeHead(200).end();
      });
    });
    server.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    let dropped = 0;
    let delivered = 0;
    const hook = new Webhook(new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/x`), {
      log: silentLogger(),
      maxQueue: 2,
      attempts: 1,
      timeoutMs: 10_000,
      onDropped: () => dropped++,
      onDelivered: () => delivered++,
    });
    try {
      hook.sink(online(1));
      await waitFor(() => received.length === 1, 5000, 'the first POST is in flight');
      const started = Date.now();
      for (let n = 2; n <= 5; n++) hook.sink(online(n));
      assert.ok(Date.now() - started < 100, 'queueing returns at once');
      assert.equal(hook.queued, 2);
      assert.equal(dropped, 2, 'h2 and h3 were dropped');
      hold = false;
      for (const res of held.splice(0)) res.writeHead(200).end();
      await waitFor(() => delivered === 3, 5000, 'the rest delivered');
      assert.deepEqual(received, ['h1', 'h4', 'h5']);
      hook.sink({ ...online(6), event: 'SenderConnectionClosed' });
      await new Promise((resolve) => setTimeout(resolve, 50));
      assert.equal(received.length, 3, 'connection events are not sent to webhooks');
    } finally {
      hook.close();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  test('URLs: http(s) only, credentials and query never shown', () => {
    assert.equal(redactUrl(parseWebhookUrl('https://user:secret@hooks.example.com/a/b?token=zzz')), 'https://hooks.example.com/a/b');
    assert.throws(() => parseWebhookUrl('ftp://x/'), WebhookUrlError);
    assert.throws(() => parseWebhookUrl('not a url with secret@x?token=1'), (err: Error) => err instanceof WebhookUrlError && !err.message.includes('token=1'));
  });
});
