/**
 * `bridge -H` keeps requests inside the target's base path against a real target that decodes %2F
 * before it resolves the path: python's http.server serves `/sub/..%2fsecret.txt` as `/secret.txt`.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { endBridgeSuite, startBridge } from '../bridge/bridge-kit.js';
import { freePort, withTimeout } from '../helpers/async.js';
import { sha256 } from '../helpers/data.js';
import { spawnProcess, type RunningProcess } from '../helpers/processes.js';
import { startRelay, type TestRelay } from '../helpers/relay.js';

const SECRET = Buffer.from('outside the base path: must never be served\n');
const INSIDE = Buffer.from('inside /sub/\n');

function get(relay: TestRelay, path: string): Promise<{ status: number; body: Buffer }> {
  return withTimeout(
    new Promise((resolve, reject) => {
      // Options rather than a URL, so the path goes out exactly as written.
      const req = request({ host: '127.0.0.1', port: relay.port, path, headers: { ServiceBusAuthorization: relay.token('hc-web') } }, (res) => {
        const parts: Buffer[] = [];
        res.on('data', (c: Buffer) => parts.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(parts) }));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end();
    }),
    15_000,
    `GET ${path}`,
  );
}

describe('bridge -H base path confinement against python3 -m http.server', () => {
  let relay: TestRelay;
  let target: RunningProcess;
  let targetPort: number;
  const root = mkdtempSync(join(tmpdir(), 'hybridge-hc-web-'));

  before(async () => {
    mkdirSync(join(root, 'sub'));
    writeFileSync(join(root, 'secret.txt'), SECRET);
    writeFileSync(join(root, 'sub', 'inside.txt'), INSIDE);
    targetPort = await freePort();
    target = spawnProcess('python3', ['-u', '-m', 'http.server', '--bind', '127.0.0.1', '--directory', root, String(targetPort)]);
    await target.waitForOutput(/Serving HTTP/, 15_000);
    relay = await startRelay({ hybridConnections: ['hc-web'] });
    await startBridge(['-x', relay.connectionString(), '-H', `hc-web:http/127.0.0.1/sub:${targetPort}`]);
  });

  after(() => endBridgeSuite(relay, root));

  test('a file inside the base path is served intact', async () => {
    const answer = await get(relay, '/hc-web/inside.txt');
    assert.equal(answer.status, 200);
    assert.equal(sha256(answer.body), sha256(INSIDE));
  });

  test('the target itself serves the secret for an encoded-slash escape (what the bridge must not forward)', async () => {
    const direct = await new Promise<number>((resolve, reject) => {
      request({ host: '127.0.0.1', port: targetPort, path: '/sub/..%2fsecret.txt' }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      })
        .on('error', reject)
        .end();
    });
    assert.equal(direct, 200, 'python decodes %2F before it resolves the path');
  });

  test('every encoded or backslash escape of /sub/ gets 400 and never the secret', async () => {
    for (const path of ['/hc-web/..%2fsecret.txt', '/hc-web/..%2Fsecret.txt', '/hc-web/%2e%2e%2fsecret.txt', '/hc-web/.%2e%2fsecret.txt', '/hc-web/x/..%2f..%2fsecret.txt', '/hc-web/..%5csecret.txt', '/hc-web/..\\secret.txt', '/hc-web/../secret.txt', '/hc-web/%2e%2e/secret.txt', '/hc-web/..;/secret.txt']) {
      const answer = await get(relay, path);
      assert.notEqual(sha256(answer.body), sha256(SECRET), `${path} served the secret`);
      assert.equal(answer.status, 400, path);
    }
  });
});
