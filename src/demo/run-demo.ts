import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSasToken } from '../protocol/sas-token.js';
import { freeTcpPort } from '../util/free-port.js';
import { echoThrough, httpEchoThrough, type TransferResult } from './demo-checks.js';
import { DemoProcess } from './demo-processes.js';
import { startDemoTargets, type DemoTargets } from './demo-targets.js';

export interface DemoOptions {
  /** Bytes pushed through each bulk transfer. */
  bytes: number;
  /** Parallel connections in the concurrency step. */
  parallel: number;
  write(line: string): void;
}

const ROOT_RULE = 'RootManageSharedAccessKey';

/**
 * The end-to-end tour: an embedded relay, a TCP echo service and an HTTP service, and every kind of
 * hybridge end between them, each transfer checked by length and SHA-256. Returns whether all passed.
 */
export async function runDemo(options: DemoOptions): Promise<boolean> {
  const out = options.write;
  const dataDir = mkdtempSync(join(tmpdir(), 'hybridge-demo-'));
  const rootKey = randomBytes(24).toString('base64url');
  const processes: DemoProcess[] = [];
  // Keys travel in the environment, never on command lines (where `ps` would show them).
  const start = (label: string, args: string[], env: NodeJS.ProcessEnv = {}) => {
    const p = new DemoProcess(label, args, env);
    processes.push(p);
    return p;
  };
  let targets: DemoTargets | undefined;
  let allOk = true;
  try {
    out('hybridge demo: an embedded relay and every kind of hybridge end, all on 127.0.0.1\n');
    const relay = start('hybridge server', ['server', '--port', '0', '--data', dataDir, '--hyco', 'demo', '--hyco', 'demo-http', '--hyco', 'demo-tunnel'], { HYBRIDGE_ROOT_KEY: rootKey });
    const relayUrl = (await relay.waitFor(/relay listening url=(ws:\/\/\S+)/))[1]!;
    const cs = `Endpoint=${relayUrl}/;SharedAccessKeyName=${ROOT_RULE};SharedAccessKey=${rootKey}`;
    targets = await startDemoTargets();
    out(`  relay    ${relayUrl}  (hybridge server; namespace in ${dataDir})\n`);
    out(`  targets  TCP echo 127.0.0.1:${targets.echoPort}, HTTP echo 127.0.0.1:${targets.httpPort}\n\n`);

    const withCs = { HYBRIDGE_CONNECTION_STRING: cs, AZTUNNEL_RELAY_NAME: '', AZTUNNEL_KEY_NAME: '', AZTUNNEL_KEY: '', AZURE_BRIDGE_CONNECTIONSTRING: '' };
    const remote = start('hybridge bridge -T/-H', ['bridge', '-T', `demo:127.0.0.1:${targets.echoPort}`, '-H', `demo-http:http/127.0.0.1:${targets.httpPort}`], withCs);
    const bridgePort = await freeTcpPort();
    const local = start('hybridge bridge -L', ['bridge', '-L', `127.0.0.1:${bridgePort}:demo`], withCs);
    const tunnelListener = start('hybridge relay-listener', ['relay-listener', '--hyco', 'demo-tunnel', '--allow', `127.0.0.1:${targets.echoPort}`], withCs);
    const tunnelSender = start('hybridge relay-sender', ['relay-sender', 'port-forward', `127.0.0.1:${targets.echoPort}`, '--hyco', 'demo-tunnel', '-b', '127.0.0.1:0'], withCs);
    await remote.waitFor(/relay listener online[\s\S]*relay listener online/);
    await local.waitFor(/bridge ready/);
    await tunnelListener.waitFor(/listener online/);
    const tunnelPort = Number((await tunnelSender.waitFor(/listening on 127\.0\.0\.1:(\d+)/))[1]);

    const mib = (options.bytes / 1048576).toFixed(1);
    const report = (what: string, result: TransferResult, extra = '') => {
      allOk &&= result.ok;
      const rate = result.ok && result.ms > 0 ? `, ${((2 * result.bytes) / 1048576 / (result.ms / 1000)).toFixed(0)} MiB/s both ways` : '';
      out(`  ${result.ok ? 'PASS' : 'FAIL'}  ${what.padEnd(50)} ${result.ms} ms${rate}${extra}; ${result.detail}\n`);
    };
    report(`bridge -L -> relay -> bridge -T, ${mib} MiB echo`, await echoThrough(bridgePort, options.bytes));
    const parallel = await Promise.all(Array.from({ length: options.parallel }, () => echoThrough(bridgePort, 1024 * 1024)));
    const slowest = Math.max(...parallel.map((r) => r.ms));
    const failed = parallel.filter((r) => !r.ok);
    report(`bridge, ${options.parallel} parallel connections x 1 MiB`, {
      bytes: options.parallel * 1048576,
      ms: slowest,
      ok: failed.length === 0,
      detail: failed.length === 0 ? 'every connection SHA-256 match' : `${failed.length} failed: ${failed[0]!.detail}`,
    });
    report(`relay-sender -> relay -> relay-listener, ${mib} MiB`, await echoThrough(tunnelPort, options.bytes));
    const httpUrl = `${relayUrl.replace(/^ws/, 'http')}/demo-http/echo`;
    const token = createSasToken(`${relayUrl.replace(/^ws/, 'http')}/demo-http`, ROOT_RULE, rootKey, Math.floor(Date.now() / 1000) + 600);
    report('HTTP POST 1 MiB -> relay -> bridge -H', await httpEchoThrough(httpUrl, token, 1024 * 1024));

    out(`\n${allOk ? 'All checks passed.' : 'Some checks FAILED (see above).'} The same setup by hand:\n`);
    out('  hybridge server --hyco db                            # prints the root connection string once\n');
    out('  export HYBRIDGE_CONNECTION_STRING=\'Endpoint=ws://127.0.0.1:9350/;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=...\'\n');
    out('  hybridge bridge -T db:127.0.0.1:5432                 # next to the service\n');
    out('  hybridge bridge -L 127.0.0.1:15432:db                # next to the client; connect to 127.0.0.1:15432\n');
    return allOk;
  } finally {
    await Promise.all(processes.reverse().map((p) => p.stop()));
    await targets?.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}
