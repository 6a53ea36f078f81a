import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { buildHybridConnectionUrl } from '../../src/protocol/relay-endpoint.js';
import { createSasToken } from '../../src/protocol/sas-token.js';
import { openWebSocket, WebSocketHandshakeError } from '../../src/websocket/client-handshake.js';
import { WsConnection } from '../../src/websocket/connection.js';
import { freePort, withTimeout } from '../helpers/async.js';
import { stopAll } from '../helpers/processes.js';
import { cleanEnv, cliJson, connectionString, oneLine, ROOT_RULE, runCli, startServer, type CliResult } from '../relay/management-cli-kit.js';

const ROOT_KEY = 'management-cli-root-key-0123456789';
const KEYS_SHAPE = ['keyName', 'primaryConnectionString', 'primaryKey', 'secondaryConnectionString', 'secondaryKey'];

interface Keys {
  keyName: string;
  primaryConnectionString: string;
  primaryKey: string;
  secondaryConnectionString: string;
  secondaryKey: string;
}
interface Hyco {
  name: string;
  type: string;
  requiresClientAuthorization: boolean;
  userMetadata: string;
  listenerCount: number;
}
interface Rule {
  name: string;
  rights: string[];
  type: string;
}

interface Listener {
  conn: WsConnection;
  /** The close code the relay sent (or 1006 when the socket just went away). */
  closed: Promise<number>;
  isOpen(): boolean;
}

describe('hybridge hyco / namespace management (process)', () => {
  const dataRoot = mkdtempSync(join(tmpdir(), 'hybridge-management-cli-'));
  const listeners: Listener[] = [];
  let port = 0;
  let rootCs = '';

  /** Runs a command with the root connection string. */
  const run = (args: string[]) => runCli([...args, '-x', rootCs]);
  const json = <T>(args: string[], cs = rootCs) => cliJson<T>([...args, '-x', cs]);
  const expectFailure = async (args: string[], code: number, pattern: RegExp, cs = rootCs): Promise<CliResult> => {
    const result = await runCli([...args, '-x', cs]);
    assert.equal(result.code, code, `${args.join(' ')}: expected exit ${code}, got ${result.code}: ${result.stderr}`);
    const line = oneLine(result.stderr);
    assert.ok(line, `one line on stderr expected, got: ${JSON.stringify(result.stderr)}`);
    assert.match(line, pattern);
    assert.equal(result.stdout, '');
    return result;
  };

  const token = (entity: string, keyName: string, key: string) => createSasToken(`http://127.0.0.1:${port}/${entity}`, keyName, key, Math.floor(Date.now() / 1000) + 3600);
  const endpoint = () => ({ secure: false, host: '127.0.0.1', port });

  /** Opens a listener control channel (sb-hc-action=listen) with a token signed by `key`. */
  const openListener = async (entity: string, keyName: string, key: string): Promise<Listener> => {
    const opened = await openWebSocket(buildHybridConnectionUrl(endpoint(), entity, 'listen'), {
      headers: { ServiceBusAuthorization: token(entity, keyName, key) },
      timeoutMs: 5000,
    });
    const conn = new WsConnection(opened.socket, { role: 'client', autoCloseReply: true });
    let settle!: (code: number) => void;
    const closed = new Promise<number>((resolve) => (settle = resolve));
    conn.attach({ onMessageData() {}, onPeerClose: (code) => settle(code), onClosed: (code) => settle(code) }, opened.head);
    const listener = { conn, closed, isOpen: () => !conn.inputClosed && !conn.isFinished };
    listeners.push(listener);
    return listener;
  };

  const expectListenRefused = async (entity: string, keyName: string, key: string, status: number) => {
    await assert.rejects(openListener(entity, keyName, key), (err: unknown) => {
      assert.ok(err instanceof WebSocketHandshakeError, String(err));
      assert.equal(err.statusCode, status, `${err.statusCode} ${err.statusMessage}`);
      return true;
    });
  };

  const keysOf = (entity: string | undefined, rule: string) =>
    entity === undefined
      ? json<Keys>(['namespace', 'authorization-rule', 'keys', 'list', '-n', rule])
      : json<Keys>(['hyco', 'authorization-rule', 'keys', 'list', '--hybrid-connection-name', entity, '-n', rule]);

  before(async () => {
    const server = await startServer(['--data', join(dataRoot, 'relay'), '--root-key', ROOT_KEY, '--hyco', 'a']);
    port = server.port;
    rootCs = connectionString(port, ROOT_RULE, ROOT_KEY);
  });

  after(async () => {
    for (const l of listeners) l.conn.destroy();
    await stopAll();
    rmSync(dataRoot, { recursive: true, force: true });
  });

  test('hyco create, list, show, update and delete, with "/" and "." in names', async () => {
    const created = await json<Hyco>(['hyco', 'create', '-n', 'team/app.v1', '--user-metadata', 'first']);
    assert.deepEqual(
      { name: created.name, requiresClientAuthorization: created.requiresClientAuthorization, userMetadata: created.userMetadata, listenerCount: created.listenerCount },
      { name: 'team/app.v1', requiresClientAuthorization: true, userMetadata: 'first', listenerCount: 0 },
    );
    await json(['hyco', 'create', '-n', 'dots.only', '--requires-client-authorization', 'false']);

    const names = (await json<Hyco[]>(['hyco', 'list'])).map((h) => h.name);
    assert.ok(names.includes('team/app.v1') && names.includes('dots.only') && names.includes('a'), names.join(','));

    const shown = await json<Hyco>(['hyco', 'show', '-n', 'team/app.v1']);
    assert.equal(shown.name, 'team/app.v1');
    assert.equal(shown.type, 'Microsoft.Relay/Namespaces/HybridConnections');

    const updated = await json<Hyco>(['hyco', 'update', '-n', 'team/app.v1', '--requires-client-authorization', 'false', '--user-metadata', 'second']);
    assert.equal(updated.requiresClientAuthorization, false);
    assert.equal(updated.userMetadata, 'second');

    // A listener on a name with '/' and '.' works, and deleting the entity closes it.
    const listener = await openListener('team/app.v1', ROOT_RULE, ROOT_KEY);
    assert.equal((await json<Hyco>(['hyco', 'show', '-n', 'team/app.v1'])).listenerCount, 1);

    const deleted = await run(['hyco', 'delete', '-n', 'team/app.v1']);
    assert.equal(deleted.code, 0, deleted.stderr);
    assert.equal(deleted.stdout, '', 'delete prints nothing');
    assert.equal(await withTimeout(listener.closed, 5000, 'listener close after delete'), 1001);

    await expectFailure(['hyco', 'show', '-n', 'team/app.v1'], 1, /^hybridge: hybrid connection "team\/app\.v1" does not exist \(HTTP 404\)$/);
    // create on an existing name updates it (az relay hyco create is create-or-update), so scripts can re-run.
    const again = await json<Hyco>(['hyco', 'create', '-n', 'dots.only', '--user-metadata', 'second run']);
    assert.equal(again.name, 'dots.only');
    assert.equal(again.userMetadata, 'second run');
    assert.equal(again.requiresClientAuthorization, false, 'create without the flag keeps the earlier setting');
    await expectFailure(['hyco', 'create', '-n', 'bad/../name'], 2, /^hybridge: --name "bad\/\.\.\/name" is not a valid hybrid connection name: /);
    await expectFailure(['hyco', 'delete', '-n', 'team/app.v1'], 1, /does not exist \(HTTP 404\)$/);
  });

  test('authorization rules at both scopes, with each right and both --rights spellings', async () => {
    await json(['hyco', 'create', '-n', 'rules']);
    const expected: Record<string, string[]> = { Listen: ['Listen'], Send: ['Send'], Manage: ['Listen', 'Send', 'Manage'] };
    for (const right of ['Listen', 'Send', 'Manage']) {
      const hycoRule = await json<Rule>(['hyco', 'authorization-rule', 'create', '--hybrid-connection-name', 'rules', '-n', `h-${right}`, '--rights', right]);
      assert.deepEqual(hycoRule, { name: `h-${right}`, rights: expected[right], type: 'Microsoft.Relay/Namespaces/HybridConnections/AuthorizationRules' });
      const nsRule = await json<Rule>(['namespace', 'authorization-rule', 'create', '-n', `n-${right}`, '--rights', right.toLowerCase()]);
      assert.deepEqual(nsRule, { name: `n-${right}`, rights: expected[right], type: 'Microsoft.Relay/Namespaces/AuthorizationRules' });
    }
    // az's space-separated form and the comma-separated one.
    assert.deepEqual((await json<Rule>(['hyco', 'authorization-rule', 'create', '--hybrid-connection-name', 'rules', '-n', 'spaced', '--rights', 'Send', 'Listen'])).rights, ['Listen', 'Send']);
    assert.deepEqual((await json<Rule>(['namespace', 'authorization-rule', 'create', '-n', 'commas', '--rights', 'Listen,Send'])).rights, ['Listen', 'Send']);
    // create on an existing rule changes its rights, as az's does; update does the same.
    assert.deepEqual((await json<Rule>(['namespace', 'authorization-rule', 'update', '-n', 'commas', '--rights', 'Send'])).rights, ['Send']);

    const hycoRules = (await json<Rule[]>(['hyco', 'authorization-rule', 'list', '--hybrid-connection-name', 'rules'])).map((r) => r.name).sort();
    assert.deepEqual(hycoRules, ['h-Listen', 'h-Manage', 'h-Send', 'spaced']);
    const nsRules = (await json<Rule[]>(['namespace', 'authorization-rule', 'list'])).map((r) => r.name);
    for (const name of [ROOT_RULE, 'n-Listen', 'n-Send', 'n-Manage', 'commas']) assert.ok(nsRules.includes(name), name);

    assert.deepEqual((await json<Rule>(['namespace', 'authorization-rule', 'show', '-n', 'n-Send'])).rights, ['Send']);
    assert.deepEqual((await json<Rule>(['hyco', 'authorization-rule', 'show', '--hybrid-connection-name', 'rules', '-n', 'h-Listen'])).rights, ['Listen']);

    // Each right does what it says on the wire: Listen may listen, Send may not.
    const listenKeys = await keysOf('rules', 'h-Listen');
    const sendKeys = await keysOf('rules', 'h-Send');
    await openListener('rules', 'h-Listen', listenKeys.primaryKey);
    await expectListenRefused('rules', 'h-Send', sendKeys.primaryKey, 403);

    for (const [args, name] of [
      [['hyco', 'authorization-rule', 'delete', '--hybrid-connection-name', 'rules', '-n', 'spaced'], 'spaced'],
      [['namespace', 'authorization-rule', 'delete', '-n', 'commas'], 'commas'],
    ] as const) {
      const result = await run([...args]);
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stdout, '');
      const showArgs = args[0] === 'hyco' ? ['hyco', 'authorization-rule', 'show', '--hybrid-connection-name', 'rules', '-n', name] : ['namespace', 'authorization-rule', 'show', '-n', name];
      await expectFailure(showArgs, 1, new RegExp(`authorization rule "${name}" does not exist.*\\(HTTP 404\\)$`));
    }
    await expectFailure(['hyco', 'authorization-rule', 'list', '--hybrid-connection-name', 'nope'], 1, /hybrid connection "nope" does not exist \(HTTP 404\)$/);
  });

  test('keys list prints exactly the fields az prints', async () => {
    await json(['hyco', 'authorization-rule', 'create', '--hybrid-connection-name', 'a', '-n', 'shape', '--rights', 'Send']);
    const hycoKeys = await keysOf('a', 'shape');
    assert.deepEqual(Object.keys(hycoKeys), KEYS_SHAPE);
    assert.equal(hycoKeys.keyName, 'shape');
    assert.match(hycoKeys.primaryKey, /^[A-Za-z0-9+/]{43}=$/, '256-bit base64 key');
    assert.match(hycoKeys.secondaryKey, /^[A-Za-z0-9+/]{43}=$/);
    assert.notEqual(hycoKeys.primaryKey, hycoKeys.secondaryKey);
    assert.equal(hycoKeys.primaryConnectionString, connectionString(port, 'shape', hycoKeys.primaryKey, { entityPath: 'a' }));
    assert.equal(hycoKeys.secondaryConnectionString, connectionString(port, 'shape', hycoKeys.secondaryKey, { entityPath: 'a' }));

    const rootKeys = await keysOf(undefined, ROOT_RULE);
    assert.deepEqual(Object.keys(rootKeys), KEYS_SHAPE);
    assert.equal(rootKeys.primaryKey, ROOT_KEY);
    assert.equal(rootKeys.primaryConnectionString, rootCs, 'namespace rules have no EntityPath');

    // az's --query/-o tsv idiom for scripts.
    const tsv = await run(['hyco', 'authorization-rule', 'keys', 'list', '--hybrid-connection-name', 'a', '-n', 'shape', '--query', 'primaryConnectionString', '-o', 'tsv']);
    assert.equal(tsv.stdout, hycoKeys.primaryConnectionString + '\n');
    const names = await run(['namespace', 'authorization-rule', 'list', '--query', '[].name', '-o', 'tsv']);
    assert.ok(names.stdout.split('\n').includes(ROOT_RULE), names.stdout);
  });

  test('keys renew at hyco scope: the old key fails at once and listeners admitted with it are closed with 1008', async () => {
    await json(['hyco', 'create', '-n', 'renew-me']);
    await json(['hyco', 'authorization-rule', 'create', '--hybrid-connection-name', 'renew-me', '-n', 'lsn', '--rights', 'Listen']);
    const old = await keysOf('renew-me', 'lsn');
    const onPrimary = await openListener('renew-me', 'lsn', old.primaryKey);
    const onSecondary = await openListener('renew-me', 'lsn', old.secondaryKey);

    const renewed = await json<Keys>(['hyco', 'authorization-rule', 'keys', 'renew', '--hybrid-connection-name', 'renew-me', '-n', 'lsn', '--key', 'PrimaryKey']);
    assert.deepEqual(Object.keys(renewed), KEYS_SHAPE);
    assert.notEqual(renewed.primaryKey, old.primaryKey);
    assert.equal(renewed.secondaryKey, old.secondaryKey, 'the other key is kept');
    assert.equal(renewed.primaryConnectionString, connectionString(port, 'lsn', renewed.primaryKey, { entityPath: 'renew-me' }));

    assert.equal(await withTimeout(onPrimary.closed, 5000, 'close of the listener on the renewed key'), 1008);
    await expectListenRefused('renew-me', 'lsn', old.primaryKey, 401);
    const fresh = await openListener('renew-me', 'lsn', renewed.primaryKey);
    assert.ok(onSecondary.isOpen(), 'a listener on the other key stays connected');
    assert.ok(fresh.isOpen());

    const renewed2 = await json<Keys>(['hyco', 'authorization-rule', 'keys', 'renew', '--hybrid-connection-name', 'renew-me', '-n', 'lsn', '--key', 'SecondaryKey']);
    assert.notEqual(renewed2.secondaryKey, old.secondaryKey);
    assert.equal(renewed2.primaryKey, renewed.primaryKey);
    assert.equal(await withTimeout(onSecondary.closed, 5000, 'close of the listener on the renewed secondary key'), 1008);
    await expectListenRefused('renew-me', 'lsn', old.secondaryKey, 401);
    await openListener('renew-me', 'lsn', renewed2.secondaryKey);
    assert.ok(fresh.isOpen(), 'renewing the secondary key leaves primary-key listeners alone');
  });

  test('keys renew at namespace scope, with and without --key-value', async () => {
    await json(['namespace', 'authorization-rule', 'create', '-n', 'ns-listen', '--rights', 'Listen']);
    const old = await keysOf(undefined, 'ns-listen');
    const listener = await openListener('a', 'ns-listen', old.primaryKey);
    const chosen = 'chosen-key-value-0123456789-abcdef';
    const renewed = await json<Keys>(['namespace', 'authorization-rule', 'keys', 'renew', '-n', 'ns-listen', '--key', 'primarykey', '--key-value', chosen]);
    assert.equal(renewed.primaryKey, chosen);
    assert.equal(renewed.primaryConnectionString, connectionString(port, 'ns-listen', chosen));
    assert.equal(await withTimeout(listener.closed, 5000, 'close after namespace key renewal'), 1008);
    await expectListenRefused('a', 'ns-listen', old.primaryKey, 401);
    await openListener('a', 'ns-listen', chosen);
    assert.deepEqual(await keysOf(undefined, 'ns-listen'), renewed, 'keys list shows the renewed key');

    const secondary = await json<Keys>(['namespace', 'authorization-rule', 'keys', 'renew', '-n', 'ns-listen', '--key', 'SecondaryKey']);
    assert.notEqual(secondary.secondaryKey, old.secondaryKey);
    await expectListenRefused('a', 'ns-listen', old.secondaryKey, 401);
    await openListener('a', 'ns-listen', secondary.secondaryKey);

    const tooShort = 'short-key';
    const refused = await expectFailure(['namespace', 'authorization-rule', 'keys', 'renew', '-n', 'ns-listen', '--key', 'PrimaryKey', '--key-value', tooShort], 1, /^hybridge: a key must be 16 to 256 characters long \(HTTP 400\)$/);
    assert.ok(!refused.stderr.includes(tooShort), 'a key never appears in an error');
  });

  test('deleting a rule closes listeners admitted with it', async () => {
    await json(['hyco', 'authorization-rule', 'create', '--hybrid-connection-name', 'a', '-n', 'doomed', '--rights', 'Listen']);
    const keys = await keysOf('a', 'doomed');
    const listener = await openListener('a', 'doomed', keys.primaryKey);
    assert.equal((await run(['hyco', 'authorization-rule', 'delete', '--hybrid-connection-name', 'a', '-n', 'doomed'])).code, 0);
    assert.equal(await withTimeout(listener.closed, 5000, 'close after rule deletion'), 1008);
    await expectListenRefused('a', 'doomed', keys.primaryKey, 401);
  });

  test('an entity-level Manage rule manages its own hybrid connection and nothing else', async () => {
    await json(['hyco', 'create', '-n', 'owned']);
    await json(['hyco', 'authorization-rule', 'create', '--hybrid-connection-name', 'owned', '-n', 'owner', '--rights', 'Manage']);
    const ownerCs = (await keysOf('owned', 'owner')).primaryConnectionString;
    assert.match(ownerCs, /;EntityPath=owned$/);

    assert.equal((await json<Hyco>(['hyco', 'show', '-n', 'owned'], ownerCs)).name, 'owned');
    assert.equal((await json<Hyco>(['hyco', 'update', '-n', 'owned', '--user-metadata', 'mine'], ownerCs)).userMetadata, 'mine');
    await json(['hyco', 'authorization-rule', 'create', '--hybrid-connection-name', 'owned', '-n', 'client', '--rights', 'Send'], ownerCs);
    assert.deepEqual(Object.keys(await json(['hyco', 'authorization-rule', 'keys', 'list', '--hybrid-connection-name', 'owned', '-n', 'client'], ownerCs)), KEYS_SHAPE);
    await json(['hyco', 'authorization-rule', 'keys', 'renew', '--hybrid-connection-name', 'owned', '-n', 'client', '--key', 'PrimaryKey'], ownerCs);

    const scoped = /^hybridge: rule "owner" belongs to hybrid connection "owned" and can manage only that one; .* a namespace-level Manage rule \(HTTP 403\); use the connection string of a rule with Manage rights in the right scope$/;
    await expectFailure(['hyco', 'create', '-n', 'other'], 1, scoped, ownerCs);
    await expectFailure(['hyco', 'show', '-n', 'a'], 1, scoped, ownerCs);
    await expectFailure(['hyco', 'list'], 1, scoped, ownerCs);
    await expectFailure(['namespace', 'authorization-rule', 'list'], 1, scoped, ownerCs);
    await expectFailure(['hyco', 'delete', '-n', 'owned'], 1, /^hybridge: deleting a hybrid connection needs a namespace-level Manage rule \(HTTP 403\)/, ownerCs);
    assert.equal((await run(['hyco', 'show', '-n', 'other'])).code, 1, '"other" was not created');
  });

  test('a Send-only rule gets a clear 403 from management', async () => {
    await json(['hyco', 'authorization-rule', 'create', '--hybrid-connection-name', 'a', '-n', 'sender', '--rights', 'Send']);
    const senderCs = (await keysOf('a', 'sender')).primaryConnectionString;
    await expectFailure(['hyco', 'show', '-n', 'a'], 1, /^hybridge: Unauthorized: rule "sender" does not grant Manage \(HTTP 403\)/, senderCs);
    await expectFailure(['hyco', 'list'], 1, /^hybridge: Unauthorized: rule "sender" of hybrid connection "a" does not grant Manage \(HTTP 403\)/, senderCs);

    await json(['namespace', 'authorization-rule', 'create', '-n', 'ns-sender', '--rights', 'Send']);
    const nsSenderCs = (await keysOf(undefined, 'ns-sender')).primaryConnectionString;
    await expectFailure(['hyco', 'create', '-n', 'nope'], 1, /^hybridge: Unauthorized: rule "ns-sender" does not grant Manage \(HTTP 403\)/, nsSenderCs);
  });

  test('a wrong key gives a one-line 401 that does not show the key', async () => {
    const wrongKey = 'this-is-not-the-root-key-000000';
    const result = await expectFailure(
      ['hyco', 'list'],
      1,
      /^hybridge: InvalidSignature: the token has an invalid signature \(HTTP 401\); check SharedAccessKeyName and SharedAccessKey in the connection string$/,
      connectionString(port, ROOT_RULE, wrongKey),
    );
    assert.ok(!result.stderr.includes(wrongKey));
    assert.ok(!result.stderr.includes(ROOT_KEY));
    await expectFailure(['hyco', 'list'], 1, /^hybridge: InvalidSignature: .*\(HTTP 401\)/, connectionString(port, 'NoSuchRule', wrongKey));
  });

  test('--requires-client-authorization false lets an anonymous sender past authorization', async () => {
    await json(['hyco', 'create', '-n', 'open-door', '--requires-client-authorization', 'false']);
    const connect = (entity: string) => openWebSocket(buildHybridConnectionUrl(endpoint(), entity, 'connect'), { timeoutMs: 5000 });
    const expectStatus = async (entity: string, status: number, reason: RegExp) => {
      await assert.rejects(connect(entity), (err: unknown) => {
        assert.ok(err instanceof WebSocketHandshakeError, String(err));
        assert.equal(err.statusCode, status, `${err.statusCode} ${err.statusMessage}`);
        assert.match(err.statusMessage, reason);
        return true;
      });
    };
    // No listener, so the sender gets as far as pairing: 404 "No listener", not 401.
    await expectStatus('open-door', 404, /No listener/);
    await json(['hyco', 'update', '-n', 'open-door', '--requires-client-authorization', 'true']);
    await expectStatus('open-door', 401, /MissingToken/);
    await json(['hyco', 'update', '-n', 'open-door', '--requires-client-authorization', 'FALSE']);
    await expectStatus('open-door', 404, /No listener/);
  });

  test('RootManageSharedAccessKey cannot be deleted or lose Manage while it is the only Manage rule', async () => {
    const fresh = join(dataRoot, 'root-protection');
    const server = await startServer(['--data', fresh, '--root-key', ROOT_KEY]);
    const cs = connectionString(server.port, ROOT_RULE, ROOT_KEY);
    await expectFailure(['namespace', 'authorization-rule', 'delete', '-n', ROOT_RULE], 1, /^hybridge: cannot delete RootManageSharedAccessKey while it is the only rule with the Manage right \(HTTP 409\)$/, cs);
    await expectFailure(['namespace', 'authorization-rule', 'create', '-n', ROOT_RULE, '--rights', 'Listen'], 1, /^hybridge: RootManageSharedAccessKey must keep the Manage right \(HTTP 400\)$/, cs);
    assert.equal((await json<Keys>(['namespace', 'authorization-rule', 'keys', 'list', '-n', ROOT_RULE], cs)).primaryKey, ROOT_KEY);
    await server.proc.stop('SIGTERM');
  });

  test('credentials come from -x or HYBRIDGE_CONNECTION_STRING; az-only flags are ignored', async () => {
    const viaEnv = await runCli(['hyco', 'show', '-n', 'a'], cleanEnv({ HYBRIDGE_CONNECTION_STRING: rootCs }));
    assert.equal(viaEnv.code, 0, viaEnv.stderr);
    assert.equal(JSON.parse(viaEnv.stdout).name, 'a');

    const az = await run(['hyco', 'show', '-g', 'my-rg', '--namespace-name', 'my-ns', '--subscription', 'sub', '--name', 'a']);
    assert.equal(az.code, 0, az.stderr);

    const none = await runCli(['hyco', 'list']);
    assert.equal(none.code, 2);
    assert.match(oneLine(none.stderr) ?? none.stderr, /^hybridge: no credentials: pass -x\/--connection-string or set HYBRIDGE_CONNECTION_STRING/);

    const help = await runCli(['hyco', 'create', '--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /-g\/--resource-group, --namespace-name and --subscription are accepted and ignored/);
  });

  test('usage errors exit 2 with one line and send nothing', async () => {
    const cases: [string[], RegExp][] = [
      [['hyco', 'create'], /^hybridge: required option '-n, --name <name>' not specified; see `hybridge hyco create --help`$/],
      [['hyco', 'create', '-n', 'x', '--requires-client-authorization', 'maybe'], /^hybridge: --requires-client-authorization must be true or false, not "maybe"$/],
      [['hyco', 'update', '-n', 'a'], /^hybridge: nothing to update/],
      [['hyco', 'authorization-rule', 'create', '-n', 'r', '--rights', 'Send'], /^hybridge: required option '--hybrid-connection-name <name>' not specified/],
      [['hyco', 'authorization-rule', 'create', '--hybrid-connection-name', 'a', '-n', 'r', '--rights', 'Read'], /^hybridge: unknown right "Read" in --rights; use Listen, Send and\/or Manage$/],
      [['namespace', 'authorization-rule', 'keys', 'renew', '-n', 'r', '--key', 'TertiaryKey'], /^hybridge: --key must be PrimaryKey or SecondaryKey, not "TertiaryKey"$/],
      [['hyco', 'list', '-o', 'yaml'], /^hybridge: -o\/--output must be json, tsv or none, not "yaml"$/],
      [['hyco', 'list', '--query', '[?name==`a`]'], /^hybridge: --query "\[\?name==`a`\]" is not supported/],
      [['hyco', 'frobnicate'], /^hybridge: unknown command 'frobnicate'; see `hybridge hyco --help`$/],
      [['hyco', 'list', '-x', 'Endpoint=ws://127.0.0.1:1/;SharedAccessKeyName=x'], /^hybridge: -x\/--connection-string: SharedAccessKeyName and SharedAccessKey must be given together$/],
      [['hyco', 'list', '-x', 'Endpoint=sb://example.invalid/;Authentication=Managed Identity'], /^hybridge: the connection string needs SharedAccessKeyName and SharedAccessKey/],
      [['hyco', 'list', '--ca', join(dataRoot, 'missing.pem')], /^hybridge: --ca: cannot read .*missing\.pem \(ENOENT\)$/],
    ];
    // Nothing listens at this address: a command that tried to send would fail with exit 1 instead.
    const nowhere = connectionString(await freePort(), ROOT_RULE, ROOT_KEY);
    await Promise.all(
      cases.map(async ([args, pattern]) => {
        const withCs = args.includes('-x') ? args : [...args, '-x', nowhere];
        const result = await runCli(withCs);
        assert.equal(result.code, 2, `${args.join(' ')}: ${result.stderr}`);
        assert.match(oneLine(result.stderr) ?? result.stderr, pattern);
        assert.equal(result.stdout, '');
      }),
    );
  });

  test('an unreachable relay is a one-line failure with a hint', async () => {
    const closedPort = await freePort();
    await expectFailure(
      ['hyco', 'list'],
      1,
      new RegExp(`^hybridge: cannot reach the relay at http://127\\.0\\.0\\.1:${closedPort} \\(connection refused\\); is \`hybridge server\` running\\?$`),
      connectionString(closedPort, ROOT_RULE, ROOT_KEY),
    );
  });
});
