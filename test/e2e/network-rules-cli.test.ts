import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { cliJson, connectionString, oneLine, ROOT_RULE, runCli, startServer, type ServerProcess } from '../relay/management-cli-kit.js';

const ROOT_KEY = 'network-rules-cli-root-key-0123456789';
const PREFIX = ['namespace', 'network-rule-set'];

interface RuleSet {
  name: string;
  type: string;
  defaultAction: string;
  ipRules: { ipMask: string; action: string }[];
}

describe('hybridge namespace network-rule-set (process)', () => {
  let dataDir: string;
  let server: ServerProcess;
  let cs: string;
  const run = (args: string[]) => runCli([...PREFIX, ...args, '-x', cs]);
  const json = <T = RuleSet>(args: string[]) => cliJson<T>([...PREFIX, ...args, '-x', cs]);
  const expectFailure = async (args: string[], code: number, pattern: RegExp) => {
    const result = await run(args);
    assert.equal(result.code, code, `${args.join(' ')}: expected exit ${code}, got ${result.code}: ${result.stderr}`);
    const line = oneLine(result.stderr);
    assert.ok(line, `one line on stderr expected, got: ${JSON.stringify(result.stderr)}`);
    assert.match(line, pattern);
    assert.equal(result.stdout, '');
  };

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'hybridge-iprules-cli-'));
    server = await startServer(['--data', dataDir, '--root-key', ROOT_KEY]);
    cs = connectionString(server.port, ROOT_RULE, ROOT_KEY);
  });
  after(async () => {
    await server?.proc.stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  test('show, ip-rule add (last and --position), update, ip-rule list, remove, list; -o json, tsv, --query', async () => {
    assert.deepEqual(await json(['show']), { name: 'default', type: 'Microsoft.Relay/Namespaces/NetworkRuleSets', defaultAction: 'Allow', ipRules: [] });
    const added = await json(['ip-rule', 'add', '--ip-address', '127.0.0.1', '-g', 'ignored-group', '--namespace-name', 'ignored']);
    assert.deepEqual(added.ipRules, [{ ipMask: '127.0.0.1', action: 'Allow' }], 'the action defaults to Allow, as in az');
    await json(['ip-rule', 'add', '--ip-address', '2001:DB8::1/32', '--action', 'deny']);
    const inserted = await json(['ip-rule', 'add', '--ip-address', '10.6.6.0/24', '--action', 'Deny', '--position', '1']);
    assert.deepEqual(inserted.ipRules.map((r) => r.ipMask), ['10.6.6.0/24', '127.0.0.1', '2001:db8::/32']);

    const updated = await run(['update', '--default-action', 'Deny', '--query', 'defaultAction', '-o', 'tsv']);
    assert.equal(updated.code, 0, updated.stderr);
    assert.equal(updated.stdout, 'Deny\n');

    const listed = await run(['ip-rule', 'list', '-o', 'tsv']);
    assert.equal(listed.stdout, '10.6.6.0/24\tDeny\n127.0.0.1\tAllow\n2001:db8::/32\tDeny\n');
    const removed = await json(['ip-rule', 'remove', '--ip-address', '2001:db8::/32']);
    assert.equal(removed.ipRules.length, 2);
    const sets = await json<RuleSet[]>(['list']);
    assert.equal(sets.length, 1);
    assert.equal(sets[0]!.defaultAction, 'Deny');
    const none = await run(['ip-rule', 'remove', '--ip-address', '10.6.6.0/24', '-o', 'none']);
    assert.equal(none.code, 0, none.stderr);
    assert.equal(none.stdout, '');
  });

  test('usage errors are one line and exit 2, before anything is sent', async () => {
    await expectFailure(['ip-rule', 'add', '--ip-address', '10.0.0.0/33'], 2, /^hybridge: --ip-address: "10\.0\.0\.0\/33": the prefix length must be a number from 0 to 32$/);
    await expectFailure(['ip-rule', 'add', '--ip-address', 'intranet.example'], 2, /^hybridge: --ip-address: "intranet\.example" is not an IP address or network; use an IPv4 or IPv6 address or a CIDR range/);
    await expectFailure(['ip-rule', 'add', '--ip-address', '10.0.0.0/8', '--action', 'Accept'], 2, /^hybridge: --action must be Allow or Deny, not "Accept"$/);
    await expectFailure(['ip-rule', 'add', '--ip-address', '10.0.0.0/8', '--position', '0'], 2, /^hybridge: --position must be a whole number from 1 to 128, not "0"$/);
    await expectFailure(['ip-rule', 'add'], 2, /^hybridge: required option '--ip-address <cidr>' not specified; see `hybridge namespace network-rule-set ip-rule add --help`$/);
    await expectFailure(['update', '--default-action', 'Block'], 2, /^hybridge: --default-action must be Allow or Deny, not "Block"$/);
  });

  test('refusals from the relay are one line and exit 1', async () => {
    await expectFailure(['ip-rule', 'add', '--ip-address', '127.0.0.1'], 1, /^hybridge: an IP rule for 127\.0\.0\.1 already exists; remove it first .*\(HTTP 409\)$/);
    await expectFailure(['ip-rule', 'remove', '--ip-address', '192.0.2.1'], 1, /^hybridge: there is no IP rule for 192\.0\.2\.1 \(HTTP 404\)$/);
    await expectFailure(['ip-rule', 'remove', '--ip-address', '127.0.0.1'], 1, /would refuse the address this request comes from \(127\.0\.0\.1\); allow that address first \(HTTP 409\)$/);
  });

  test('--help describes the order, the exemptions and every flag', async () => {
    const help = await runCli([...PREFIX, 'ip-rule', 'add', '--help']);
    assert.equal(help.code, 0);
    for (const text of ['--ip-address <cidr>', '--action <action>', '--position <n>', 'first one that matches', 'Health checks', 'At most 128 rules']) assert.ok(help.stdout.includes(text), text);
  });
});
