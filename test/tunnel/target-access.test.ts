import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Allowlist } from '../../src/tunnel/allowlist.js';
import { authorizeTarget, dialFirstReachable, type Lookup } from '../../src/tunnel/target-access.js';
import { DialError } from '../../src/forwarding/dial.js';
import { echoServer, type TestServer } from './tunnel-kit.js';

const names: Record<string, string[]> = { 'db.internal': ['10.1.2.3', '192.168.9.9'], 'web.internal': ['172.16.0.1'] };
const lookup: Lookup = async (name) => {
  const found = names[name];
  if (!found) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${name}`), { code: 'ENOTFOUND' });
  return found;
};
const options = (resolveNames: boolean, over: Partial<{ lookup: Lookup; timeoutMs: number }> = {}) => ({ resolveNames, lookup, timeoutMs: 1000, ...over });

describe('authorizeTarget', () => {
  it('dials the name itself when an entry names it or the list is empty', async () => {
    assert.deepEqual(await authorizeTarget(Allowlist.parse([]), { host: 'db.internal', port: 5432 }, options(false)), { allowed: true, dialHosts: ['db.internal'], rule: undefined });
    assert.deepEqual(await authorizeTarget(Allowlist.parse(['db.internal:5432']), { host: 'db.internal', port: 5432 }, options(true)), { allowed: true, dialHosts: ['db.internal'], rule: 'db.internal:5432' });
  });

  it('without --allow-resolve, a name is not covered by a network entry', async () => {
    const d = await authorizeTarget(Allowlist.parse(['10.0.0.0/8:*']), { host: 'db.internal', port: 5432 }, options(false));
    assert.deepEqual(d, { allowed: false, detail: 'no --allow entry matches db.internal:5432' });
  });

  it('with --allow-resolve, dials only the resolved addresses the list allows', async () => {
    const d = await authorizeTarget(Allowlist.parse(['10.0.0.0/8:*']), { host: 'db.internal', port: 5432 }, options(true));
    assert.deepEqual(d, { allowed: true, dialHosts: ['10.1.2.3'], rule: '10.0.0.0/8:*' });
    const none = await authorizeTarget(Allowlist.parse(['10.0.0.0/8:*']), { host: 'web.internal', port: 80 }, options(true));
    assert.equal(none.allowed, false);
    assert.match((none as { detail: string }).detail, /its addresses 172\.16\.0\.1/);
  });

  it('with --allow-resolve, a name entry covers the addresses it resolves to', async () => {
    const list = Allowlist.parse(['db.internal:5432'], { resolveEntries: { resolve: lookup } });
    assert.deepEqual(await authorizeTarget(list, { host: '192.168.9.9', port: 5432 }, options(true)), { allowed: true, dialHosts: ['192.168.9.9'], rule: 'db.internal:5432' });
    assert.equal((await authorizeTarget(list, { host: '192.168.9.9', port: 22 }, options(true))).allowed, false);
  });

  it('refuses names that do not resolve, or not in time', async () => {
    const list = Allowlist.parse(['10.0.0.0/8:*']);
    const missing = await authorizeTarget(list, { host: 'nowhere.internal', port: 1 }, options(true));
    assert.match((missing as { detail: string }).detail, /addresses are unknown \(getaddrinfo ENOTFOUND nowhere\.internal\)/);
    const slow = await authorizeTarget(list, { host: 'db.internal', port: 1 }, options(true, { lookup: () => new Promise(() => undefined), timeoutMs: 50 }));
    assert.match((slow as { detail: string }).detail, /resolving db\.internal timed out after 50 ms/);
  });
});

describe('dialFirstReachable', () => {
  let echo: TestServer;
  let closedPort: number;
  before(async () => {
    echo = await echoServer();
    const closed = await echoServer();
    closedPort = closed.port;
    await closed.close();
  });
  after(() => echo.close());

  it('moves on to the next address when one fails', async () => {
    // The echo server listens on 127.0.0.1 only, so 127.0.0.2 (also loopback on Linux) refuses.
    const socket = await dialFirstReachable(['127.0.0.2', '127.0.0.1'], { port: echo.port, timeoutMs: 2000, keepAliveMs: 0 });
    assert.equal(socket.remoteAddress, '127.0.0.1');
    socket.destroy();
  });

  it('reports the last failure with its aztunnel code', async () => {
    await assert.rejects(dialFirstReachable(['127.0.0.1'], { port: closedPort, timeoutMs: 2000, keepAliveMs: 0 }), (err: unknown) => err instanceof DialError && err.code === 'connection_refused');
  });
});
