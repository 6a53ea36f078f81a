import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { HybridConnectionClient, HybridConnectionListener, type HybridConnectionStream } from '../../src/client/index.js';
import { LostBeforeAnswer, MAX_PORT_REFUSALS, MAX_RETRIES_BEFORE_ANSWER, RefusedByListener, SenderEnd, type RetryCause, type SenderOpen } from '../../src/forwarding/sender-end.js';
import { silentLogger } from '../../src/util/logger.js';
import { capturingLogger, ROOT_KEY, ROOT_RULE, startRelay, type TestRelay } from '../helpers/relay.js';

/**
 * The sender end's retry loop against a real relay and real listeners: each listener answers the
 * first message with its own id, or, while `drops` lasts, reads it and drops the connection (as a
 * listener killed between taking a connection and answering).
 */
interface ScriptedListener {
  id: string;
  seen: number;
  drops: number;
  /** The sender's headers of each connection, as the relay passed them on. */
  headers: Record<string, string>[];
  close(): void;
}

async function scriptedListener(relay: TestRelay, hyco: string, id: string, drops = 0): Promise<ScriptedListener> {
  const listener = new HybridConnectionListener({ endpoint: relay.wsBase, entityPath: hyco, keyName: ROOT_RULE, key: ROOT_KEY, listenerId: id });
  const state: ScriptedListener = { id, seen: 0, drops, headers: [], close: () => void listener.close() };
  listener.on('connection', (stream: HybridConnectionStream) => {
    stream.on('error', () => undefined);
    state.seen++;
    state.headers.push(lowerCased(stream.info.connectHeaders ?? {}));
    void stream.readMessage(5000).then(
      () => {
        if (state.drops > 0) {
          state.drops--;
          stream.destroy();
        } else {
          void stream.sendMessage(id);
        }
      },
      () => stream.destroy(),
    );
  });
  await listener.open();
  return state;
}

function lowerCased(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
}

/** The test's first exchange: listeners in `refusing` refuse the port, a connection without an answer is lost. */
async function exchange(stream: HybridConnectionStream, refusing: readonly string[]): Promise<string> {
  stream.on('error', () => undefined);
  let answer;
  try {
    await stream.sendMessage('hello');
    answer = await stream.readMessage(5000);
  } catch (err) {
    stream.destroy();
    throw new LostBeforeAnswer(new Error(`lost: ${(err as Error).message}`));
  }
  if (!answer) {
    stream.destroy();
    throw new LostBeforeAnswer(new Error('lost: closed without an answer'));
  }
  const id = answer.data.toString('utf8');
  stream.destroy();
  if (refusing.includes(id)) throw new RefusedByListener(new Error(`refused by ${id}`), id);
  return id;
}

function senderEnd(relay: TestRelay, hyco: string, options: { attempts?: number; retryBudgetMs?: number; log?: ReturnType<typeof silentLogger> } = {}): SenderEnd {
  const client = new HybridConnectionClient({ endpoint: relay.wsBase, entityPath: hyco, keyName: ROOT_RULE, key: ROOT_KEY });
  return new SenderEnd(client, { style: 'azbridge', attempts: options.attempts, retryBudgetMs: options.retryBudgetMs, attemptTimeoutMs: 5000, log: options.log ?? silentLogger() });
}

function plan(overrides: Partial<SenderOpen<string>> & { refusing?: string[]; retries?: RetryCause[] } = {}): SenderOpen<string> {
  const retries = overrides.retries ?? [];
  return {
    route: { portName: 'app', logFields: {} },
    budgetMs: 10_000,
    exchange: (stream) => exchange(stream, overrides.refusing ?? []),
    connectFailed: (err) => new Error(`no connection: ${err.message}`),
    onRetry: (_retry, _reason, why) => retries.push(why),
    ...overrides,
  };
}

describe('sender end: tries around the first exchange', () => {
  let relay: TestRelay;
  const opened: { close(): void }[] = [];

  before(async () => {
    relay = await startRelay({ hybridConnections: ['se-lost', 'se-lost-max', 'se-refused', 'se-refused-only', 'se-final', 'se-aborted', 'se-attempts', 'se-refusals-max', 'se-refused-then', 'se-answer-time'] });
  });

  after(async () => {
    for (const o of opened) o.close();
    await relay.stop();
  });

  test('a connection lost before the answer is tried again, and the answer of the third try is returned', async () => {
    const listener = await scriptedListener(relay, 'se-lost', 'l1', 2);
    const end = senderEnd(relay, 'se-lost');
    opened.push(listener, end);
    const retries: RetryCause[] = [];
    assert.equal(await end.open(plan({ retries })), 'l1');
    assert.equal(listener.seen, 3);
    assert.deepEqual(retries, ['lost', 'lost']);
  });

  test(`losses are tried again ${MAX_RETRIES_BEFORE_ANSWER} times, then the last loss's failure stands`, async () => {
    const listener = await scriptedListener(relay, 'se-lost-max', 'l1', 100);
    const end = senderEnd(relay, 'se-lost-max');
    opened.push(listener, end);
    await assert.rejects(end.open(plan()), (err: Error) => !(err instanceof LostBeforeAnswer) && /^lost: /.test(err.message));
    assert.equal(listener.seen, 1 + MAX_RETRIES_BEFORE_ANSWER);
  });

  test('a listener that refuses the port is passed over: the next try names it in the disallowed listeners and reaches the other', async () => {
    const refusing = await scriptedListener(relay, 'se-refused', 'refuser');
    const serving = await scriptedListener(relay, 'se-refused', 'server');
    const end = senderEnd(relay, 'se-refused');
    opened.push(refusing, serving, end);
    // The relay spreads connections over both listeners; every open ends at the serving one.
    let refusals = 0;
    for (let i = 0; i < 6; i++) {
      const retries: RetryCause[] = [];
      assert.equal(await end.open(plan({ refusing: ['refuser'], retries })), 'server');
      assert.ok(retries.every((why) => why === 'port-refused') && retries.length <= 1);
      refusals += retries.length;
    }
    assert.ok(refusals >= 1, 'the refusing listener was reached at least once');
    assert.equal(refusing.seen, refusals);
    assert.equal(serving.seen, 6);
    // Every connection names its port; the ones after a refusal name the listener to avoid.
    const avoided = serving.headers.map((h) => h['microsoft-relay-disallowedlisteners']).filter((v) => v !== undefined);
    assert.deepEqual(avoided, new Array(refusals).fill('refuser'));
    assert.ok([...serving.headers, ...refusing.headers].every((h) => h['hybridge-port'] !== undefined), 'every connection carries its port name');
  });

  test('after a refusal, a loss on the next listener reports the refusal; any other failure there is reported as itself', async () => {
    const refusing = await scriptedListener(relay, 'se-refused-then', 'refuser');
    const dropping = await scriptedListener(relay, 'se-refused-then', 'dropper', 100);
    const end = senderEnd(relay, 'se-refused-then');
    opened.push(refusing, dropping, end);
    // Whichever the relay picks first, the open ends at the dropping listener after the refusal.
    await assert.rejects(end.open(plan({ refusing: ['refuser'] })), /refused by refuser$/);
    assert.equal(refusing.seen, 1);
    const other = plan({
      exchange: async (stream) => {
        const id = await exchange(stream, ['refuser']).catch((err: unknown) => {
          if (err instanceof LostBeforeAnswer) throw new Error('no answer in time');
          throw err;
        });
        return id;
      },
    });
    await assert.rejects(end.open(other), /no answer in time$/);
  });

  test('the answer is awaited for the budget left when a try starts: a connect that waited does not shorten it', async () => {
    const end = senderEnd(relay, 'se-answer-time', { attempts: 3 });
    opened.push(end);
    const limits: number[] = [];
    const recorded = (budgetMs: number, answerTimeoutMs?: number) =>
      plan({
        budgetMs,
        answerTimeoutMs,
        exchange: (stream, limit) => (limits.push(limit), exchange(stream, [])),
      });
    // No listener yet: the first connect attempt fails, the second (a second later) finds one.
    const opening = end.open(recorded(20_000));
    const listener = await scriptedListener(relay, 'se-answer-time', 'l1');
    opened.push(listener);
    assert.equal(await opening, 'l1');
    assert.equal(limits.length, 1);
    assert.ok(limits[0]! > 19_000, `the answer's limit was ${limits[0]} ms of a 20,000 ms budget`);
    assert.equal(await end.open(recorded(20_000, 1234)), 'l1');
    assert.equal(limits[1], 1234);
  });

  test('with no other listener left, the refusal is the answer (not the failure to connect)', async () => {
    const refusing = await scriptedListener(relay, 'se-refused-only', 'refuser');
    const end = senderEnd(relay, 'se-refused-only');
    opened.push(refusing, end);
    await assert.rejects(end.open(plan({ refusing: ['refuser'] })), /refused by refuser$/);
    assert.equal(refusing.seen, 1);
  });

  test(`at most ${MAX_PORT_REFUSALS} refusing listeners are passed over`, async () => {
    const ids = Array.from({ length: MAX_PORT_REFUSALS + 2 }, (_, i) => `r${i}`);
    const listeners = await Promise.all(ids.map((id) => scriptedListener(relay, 'se-refusals-max', id)));
    const end = senderEnd(relay, 'se-refusals-max');
    opened.push(...listeners, end);
    const retries: RetryCause[] = [];
    await assert.rejects(end.open(plan({ refusing: ids, retries })), /refused by r\d+$/);
    assert.equal(retries.length, MAX_PORT_REFUSALS);
    assert.equal(listeners.reduce((n, l) => n + l.seen, 0), MAX_PORT_REFUSALS + 1);
    assert.ok(listeners.every((l) => l.seen <= 1), 'no listener was reached twice');
  });

  test('any other failure of the exchange is the outcome at once', async () => {
    const listener = await scriptedListener(relay, 'se-final', 'l1');
    const end = senderEnd(relay, 'se-final');
    opened.push(listener, end);
    let calls = 0;
    const failing = plan({
      exchange: async (stream) => {
        calls++;
        stream.destroy();
        throw new Error('the peer spoke another protocol');
      },
    });
    await assert.rejects(end.open(failing), /the peer spoke another protocol$/);
    assert.equal(calls, 1);
  });

  test('no try follows a loss once the client has gone (aborted), nor once the budget is spent', async () => {
    const listener = await scriptedListener(relay, 'se-aborted', 'l1', 100);
    const end = senderEnd(relay, 'se-aborted');
    opened.push(listener, end);
    const abort = new AbortController();
    const lostThenAbort = plan({ signal: abort.signal, exchange: (stream) => (abort.abort(), exchange(stream, [])) });
    await assert.rejects(end.open(lostThenAbort), /lost: /);
    assert.equal(listener.seen, 1);
    await assert.rejects(end.open(plan({ budgetMs: 1 })), /lost: /);
    assert.equal(listener.seen, 2);
  });

  test('connecting: ConnectionAttempts tries that many times; without it, transient failures are retried within the budget', async () => {
    const { log, records } = capturingLogger();
    const counted = senderEnd(relay, 'se-attempts', { attempts: 2, log });
    opened.push(counted);
    await assert.rejects(counted.open(plan()), /no connection: /);
    assert.equal(records.filter((r) => r.msg === 'relay connection attempt failed; retrying').length, 1);
    const waiting = senderEnd(relay, 'se-attempts', { retryBudgetMs: 1500, log });
    opened.push(waiting);
    await assert.rejects(waiting.open(plan({ route: { logFields: { tag: 'waiting' } } })), /no connection: /);
    assert.ok(records.some((r) => r.tag === 'waiting' && /^waiting for a listener on "se-attempts"/.test(String(r.msg))));
  });
});
