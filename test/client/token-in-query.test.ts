/**
 * `tokenInQuery`: the token travels as the `sb-hc-token` query parameter (what aztunnel's development
 * relay reads) instead of the ServiceBusAuthorization header, for listeners and senders; a relay
 * that takes either (hybridge's, Azure) lets both through; and no error message shows the token.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { HybridConnectionClient, HybridConnectionListener, RelayError } from '../../src/client/index.js';
import { parseSasToken } from '../../src/protocol/sas-token.js';
import { patternBytes, sha256 } from '../helpers/data.js';
import { startRelay, type TestRelay } from '../helpers/relay.js';
import { readAll } from '../helpers/async.js';
import { spawnHybridge, stopAll, waitExit } from '../helpers/processes.js';
import { startUpgradeRecorder, type UpgradeRecorder } from './upgrade-recorder.js';

describe('token in the sb-hc-token query parameter', () => {
  let recorder: UpgradeRecorder;
  let relay: TestRelay;

  before(async () => {
    recorder = await startUpgradeRecorder(401, 'Unauthorized: recorded');
    relay = await startRelay({ hybridConnections: ['tq'] });
  });
  after(async () => {
    await recorder.close();
    await relay.stop();
  });

  it('listener and sender put the token in the query, not in a header, and errors never show it', async () => {
    const options = { endpoint: recorder.base, entityPath: 'tq', keyName: 'k', key: 'secret-key', tokenInQuery: true };
    const listener = new HybridConnectionListener(options);
    const listenError = await listener.open().then(
      () => undefined,
      (err: unknown) => err,
    );
    const sendError = await new HybridConnectionClient(options).createConnection({ retryBudgetMs: 0 }).then(
      () => undefined,
      (err: unknown) => err,
    );
    assert.equal(recorder.requests.length, 2);
    for (const request of recorder.requests) {
      const query = new URL(request.url, 'ws://x').searchParams;
      const token = query.get('sb-hc-token');
      assert.ok(token, request.url);
      assert.equal(parseSasToken(token).keyName, 'k');
      assert.equal(request.headers.servicebusauthorization, undefined, 'no header when the token is in the query');
    }
    assert.match(new URL(recorder.requests[0]!.url, 'ws://x').searchParams.get('sb-hc-action') ?? '', /^listen$/);
    assert.match(new URL(recorder.requests[1]!.url, 'ws://x').searchParams.get('sb-hc-action') ?? '', /^connect$/);
    for (const err of [listenError, sendError]) {
      assert.ok(err instanceof RelayError, String(err));
      assert.doesNotMatch(err.message, /sig=|sb-hc-token=(?!REDACTED)/, err.message);
    }
  });

  it('a relay that reads the parameter lets listener and sender through; the bytes arrive intact', async () => {
    const cs = relay.connectionString('tq');
    const listener = new HybridConnectionListener({ connectionString: cs, tokenInQuery: true });
    listener.on('connection', (stream) => stream.pipe(stream));
    await listener.open();
    try {
      const stream = await new HybridConnectionClient({ connectionString: cs, tokenInQuery: true }).createConnection();
      const payload = patternBytes(100_000, 3);
      stream.end(payload);
      const echoed = await readAll(stream);
      assert.deepEqual([echoed.length, sha256(echoed)], [payload.length, sha256(payload)]);
    } finally {
      await listener.close();
    }
  });

  it('--token-in-query on relay-sender, relay-listener and bridge sends the parameter and never prints the token', async () => {
    const key = 'cli-secret-key-value';
    const env = { ...process.env, AZTUNNEL_KEY_NAME: 'k', AZTUNNEL_KEY: key, HYBRIDGE_CONNECTION_STRING: '' };
    const runs = [
      spawnHybridge(['relay-sender', 'connect', '127.0.0.1:9', '--relay', recorder.base, '--hyco', 'tq', '--token-in-query'], { env }),
      spawnHybridge(['relay-listener', '--relay', recorder.base, '--hyco', 'tq', '--allow', '*', '--token-in-query'], { env }),
      spawnHybridge(['bridge', '-e', recorder.base, '-K', 'k', '-k', 'Y2xpLXNlY3JldC1rZXktdmFsdWU=', '-T', 'tq:127.0.0.1:9', '--token-in-query'], { env: { PATH: process.env.PATH } }),
    ];
    const before = recorder.requests.length;
    runs[0]!.child.stdin!.end();
    for (const proc of runs) assert.equal(await waitExit(proc, 20_000), 1, proc.output());
    const requests = recorder.requests.slice(before);
    assert.ok(requests.length >= 3, `${requests.length} requests`);
    for (const request of requests) {
      assert.ok(new URL(request.url, 'ws://x').searchParams.get('sb-hc-token'), request.url);
      assert.equal(request.headers.servicebusauthorization, undefined);
    }
    for (const proc of runs) assert.doesNotMatch(proc.output(), /sig=|SharedAccessSignature/, proc.output());
    await stopAll();
  });
});
