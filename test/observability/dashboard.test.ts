/**
 * The dashboard in a real browser (Debian's Chromium, driven by playwright-core): wrong credentials
 * are refused; after sign-in a listener appears when a `bridge -T` starts and disappears when it is
 * killed; a connection's bytes grow during a transfer (SHA-256 checked at the end); renewing the
 * listener's key after a confirmation cuts it. No key or signature in any URL, in the page or in the
 * console. A screenshot per step goes to .tmp/test-artifacts/dashboard/.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { closeAll, startBridge, startEchoTarget, type TcpTarget } from '../bridge/bridge-kit.js';
import { delay, freePort, readAll, waitFor } from '../helpers/async.js';
import { startChromium, type TestBrowser } from '../helpers/chromium.js';
import { patternBytes, sha256 } from '../helpers/data.js';
import { stopAll, type RunningProcess } from '../helpers/processes.js';
import { cleanEnv, cliJson, connectionString, ROOT_RULE, startServer, type ServerProcess } from '../relay/management-cli-kit.js';

const ROOT_KEY = 'dashboard-test-root-key-0123456789abcdef';
const HYCO = 'dash';

describe('web dashboard in headless Chromium (processes)', { timeout: 90_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'hybridge-dashboard-test-'));
  let relay: ServerProcess;
  let echo: TcpTarget;
  let browser: TestBrowser;
  let listenKey: string;
  const secrets: string[] = [ROOT_KEY];

  before(async () => {
    relay = await startServer(['--data', join(dir, 'relay'), '--root-key', ROOT_KEY, '--hyco', HYCO, '--dashboard']);
    echo = await startEchoTarget();
    const root = connectionString(relay.port, ROOT_RULE, ROOT_KEY);
    await cliJson(['hyco', 'authorization-rule', 'create', '--hybrid-connection-name', HYCO, '-n', 'listeners', '--rights', 'Listen', '-x', root], cleanEnv());
    const keys = await cliJson<{ primaryKey: string; secondaryKey: string }>(['hyco', 'authorization-rule', 'keys', 'list', '--hybrid-connection-name', HYCO, '-n', 'listeners', '-x', root], cleanEnv());
    listenKey = keys.primaryKey;
    secrets.push(keys.primaryKey, keys.secondaryKey);
    browser = await startChromium('dashboard');
  });

  after(async () => {
    await browser?.close();
    await stopAll();
    await closeAll();
    rmSync(dir, { recursive: true, force: true });
  });

  test('sign-in, listeners, live bytes, key renewal, and no secret anywhere', async () => {
    const { page } = browser;
    const base = `http://127.0.0.1:${relay.port}`;
    const response = await page.goto(`${base}/$hybridge/dashboard`);
    assert.equal(response?.status(), 200);
    assert.match(response!.headers()['content-security-policy'] ?? '', /default-src 'none'; script-src 'self'/);
    await page.waitForSelector('#credential');
    await browser.screenshot('sign-in');

    await page.fill('#credential', connectionString(relay.port, ROOT_RULE, 'a-wrong-key-that-is-long-enough-000'));
    await page.click('#sign-in');
    await page.waitForSelector('#sign-in-error');
    assert.match(await page.textContent('#sign-in-error') ?? '', /Sign-in refused: InvalidSignature/);
    assert.equal(await page.inputValue('#credential'), '', 'the field is cleared');
    await browser.screenshot('wrong-credentials');

    await page.fill('#credential', connectionString(relay.port, ROOT_RULE, ROOT_KEY));
    await page.click('#sign-in');
    await page.waitForSelector('#signed-in-rule');
    assert.equal(await page.textContent('#signed-in-rule'), ROOT_RULE);
    await page.waitForSelector(`#hybrid-connections tr[data-hyco="${HYCO}"]`);
    await browser.screenshot('signed-in');

    const listenCs = connectionString(relay.port, 'listeners', listenKey, { entityPath: HYCO });
    let remote: RunningProcess = await startBridge(['-x', listenCs, '-T', `${HYCO}:${echo.port}`]);
    await page.waitForSelector('#listeners tr[data-listener-id]', { timeout: 10_000 });
    await browser.screenshot('listener-online');

    // A transfer paced over a few seconds: its bytes grow on the page while it runs.
    const localPort = await freePort();
    await startBridge(['-x', connectionString(relay.port, ROOT_RULE, ROOT_KEY), '-L', `${localPort}:${HYCO}`]);
    const payload = patternBytes(4 * 1024 * 1024, 11);
    const socket = connect({ port: localPort, host: '127.0.0.1', allowHalfOpen: true });
    await once(socket, 'connect');
    const echoed = readAll(socket);
    const writing = (async () => {
      for (let at = 0; at < payload.length; at += 128 * 1024) {
        socket.write(payload.subarray(at, at + 128 * 1024));
        await delay(100);
      }
      socket.end();
    })();
    const cell = '#connections tr[data-tracking-id] td.bytes-to-listener';
    await page.waitForSelector(cell, { timeout: 10_000 });
    const first = Number(await page.getAttribute(cell, 'data-bytes'));
    await waitFor(async () => Number(await page.getAttribute(cell, 'data-bytes')) > first, 10_000, 'the bytes grew on the page', 100);
    await browser.screenshot('bytes-growing');
    await writing;
    const back = await echoed;
    assert.equal(back.length, payload.length);
    assert.equal(sha256(back), sha256(payload), 'the transfer arrived intact');

    remote.child.kill('SIGKILL');
    await remote.exited;
    await page.waitForSelector('#listeners tr[data-listener-id]', { state: 'detached', timeout: 10_000 });
    await browser.screenshot('listener-killed');

    remote = await startBridge(['-x', listenCs, '-T', `${HYCO}:${echo.port}`]);
    await page.waitForSelector('#listeners tr[data-listener-id]', { timeout: 10_000 });
    await page.selectOption('#rule-scope', HYCO);
    await page.waitForSelector('#rules tr[data-rule="listeners"]');
    await page.click('#rules tr[data-rule="listeners"] button.renew-primary');
    await page.waitForSelector('#confirm-yes');
    await browser.screenshot('confirm-renewal');
    await page.click('#confirm-yes');
    await page.waitForSelector('#listeners tr[data-listener-id]', { state: 'detached', timeout: 10_000 });
    await page.waitForSelector('#events li[data-event="AuthorizationRuleKeysChanged"]', { timeout: 5000 });
    await browser.screenshot('listener-cut-by-renewal');
    await remote.waitForOutput(/authorization revoked|InvalidSignature|401/, 10_000);

    const html = await page.content();
    // Runs in the page (the page's CSP forbids evaluating strings; this file has no DOM types).
    const storage = await page.evaluate(() => {
      const g = globalThis as unknown as { sessionStorage: Record<string, string>; localStorage: Record<string, string> };
      return JSON.stringify({ session: { ...g.sessionStorage }, local: { ...g.localStorage } });
    });
    for (const secret of secrets) {
      for (const url of browser.requests) assert.ok(!url.includes(secret) && !/[?&]sig=/.test(url), `no secret in ${url}`);
      assert.ok(!html.includes(secret), 'no key in the page');
      assert.ok(!storage.includes(secret), 'no key in the browser\'s storage');
      assert.ok(!browser.console.some((l) => l.includes(secret) || l.includes('sig=')), 'no secret in the console');
    }
    assert.ok(!html.includes('sig='), 'no token in the page');
    assert.deepEqual(browser.console.filter((l) => l.startsWith('pageerror')), [], 'no script error');
  });
});
