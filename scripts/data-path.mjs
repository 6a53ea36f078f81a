// Single-stream throughput and CPU per GiB of each process of the relayed data path (bridge -L ->
// hybridge server -> bridge -T) against the bare Node floor (three node-forwarders in series, the
// same process shape without the protocol), over plain WebSocket or TLS, all real processes on
// loopback. The floor and the bridge run in alternating rounds (floor, bridge, bridge, floor, ...)
// so both see the same moments of a busy machine. The client and the target live in this process
// (a byte source and sink that cost little), so the three hops' CPU comes from /proc.
//
//   node scripts/data-path.mjs [MIB=256] [ROUNDS=3] [ws|tls]
//   HYBRIDGE_CPU_PROF=dir  --cpu-prof profiles of the hybridge processes there (the floor too with
//                          HYBRIDGE_PROF_FLOOR=1); HYBRIDGE_NODE_FLAGS="..." more node flags for them;
//   HYBRIDGE_ONLY=floor|bridge runs one of the two; HYBRIDGE_BIN=path/main.js runs another build;
//   HYBRIDGE_DIRECTIONS=u,d (default both).
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { processGroup, waitFor } from './lib-processes.mjs';
import { freePort, startTarget, transfer as transferBytes } from './lib-transfer.mjs';

const mib = Number(process.argv[2] ?? 256);
const rounds = Number(process.argv[3] ?? 3);
const transport = process.argv[4] ?? 'ws';
if (!Number.isFinite(mib) || mib <= 0 || !Number.isInteger(rounds) || rounds < 1 || !['ws', 'tls'].includes(transport)) {
  console.error('usage: node scripts/data-path.mjs [MIB=256] [ROUNDS=3] [ws|tls]');
  process.exit(2);
}
const bytes = Math.round(mib * 2 ** 20);
const target = await startTarget(bytes);
const targetPort = target.address().port;
const transfer = (port, direction) => transferBytes(port, direction, bytes);
const tls = transport === 'tls';
const key = 'data-path-root-key-0123456789abcdef';
const data = mkdtempSync(join(tmpdir(), 'hybridge-data-path-'));
const prof = process.env.HYBRIDGE_CPU_PROF;
const nodeFlags = process.env.HYBRIDGE_NODE_FLAGS?.split(' ').filter(Boolean) ?? [];
const directions = (process.env.HYBRIDGE_DIRECTIONS ?? 'u,d').split(',');
const { procs, start: startProcess } = processGroup(data, nodeFlags);
const profFlags = (name) => (prof ? ['--cpu-prof', `--cpu-prof-dir=${prof}`, `--cpu-prof-name=${name}.cpuprofile`] : []);
const start = (name, args, env) => startProcess(name, args, env, profFlags(name));
const forwarder = new URL('../dist/bench/tools/node-forwarder.js', import.meta.url).pathname;
const { generateSelfSignedCertificate } = await import(new URL('../dist/src/relay/self-signed.js', import.meta.url).href);

async function listening(port, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise((resolve) => {
      const s = createConnection({ port, host: '127.0.0.1' });
      s.once('connect', () => (s.destroy(), resolve(true)));
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on ${port} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const ticks = 100; // USER_HZ
/** [user, system] CPU seconds used so far by `pid`. */
function cpuOf(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return [Number(fields[11]) / ticks, Number(fields[12]) / ticks];
}

function spawnForwarder(name, port, nextPort, extra) {
  const args = [...nodeFlags, ...(process.env.HYBRIDGE_PROF_FLOOR ? profFlags(name) : []), forwarder, String(port), '127.0.0.1', String(nextPort), ...extra];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (c) => (output += c));
  child.stderr.on('data', (c) => (output += c));
  const proc = { name, child, output: () => output };
  procs.push(proc);
  return proc;
}

try {
  const cert = generateSelfSignedCertificate(['localhost', '127.0.0.1']);
  const certFile = join(data, 'cert.pem');
  const keyFile = join(data, 'key.pem');
  writeFileSync(certFile, cert.cert);
  writeFileSync(keyFile, cert.key, { mode: 0o600 });
  const paths = {};
  if (process.env.HYBRIDGE_ONLY !== 'bridge') {
    // Nearest the target first: hop 3 (listener end's place), hop 2 (relay's), hop 1 (sender end's).
    let next = targetPort;
    const hops = [];
    for (const [i, name] of ['floor-3', 'floor-2', 'floor-1'].entries()) {
      const port = await freePort();
      const extra = [];
      if (tls && i > 0) extra.push('--connect-tls', certFile);
      if (tls && i < 2) extra.push('--accept-tls', certFile, keyFile);
      const proc = spawnForwarder(name, port, next, extra);
      await waitFor(proc, /"ready":true/);
      hops.unshift(proc);
      next = port;
    }
    paths.floor = { port: next, roles: ['sender', 'relay', 'listener'], pids: hops.map((p) => p.child.pid) };
  }
  if (process.env.HYBRIDGE_ONLY !== 'floor') {
    const relayPort = await freePort();
    const serverArgs = ['server', '--host', '127.0.0.1', '--port', String(relayPort), '--hyco', 'dp', '--root-key', key, '--data', join(data, 'relay'), '--log-level', 'warn'];
    if (tls) serverArgs.push('--tls-cert', certFile, '--tls-key', keyFile);
    const server = start('relay', serverArgs);
    await waitFor(server, /key of RootManageSharedAccessKey/);
    const cs = `Endpoint=${tls ? 'sb' : 'ws'}://127.0.0.1:${relayPort}/;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=${key}`;
    const env = tls ? { NODE_EXTRA_CA_CERTS: certFile } : {};
    const remote = start('bridge-T', ['bridge', '-x', cs, '--log-level', 'info', '-T', `dp:127.0.0.1:${targetPort}`], env);
    await waitFor(remote, /online|listening|control channel/i);
    const port = await freePort();
    const local = start('bridge-L', ['bridge', '-x', cs, '-q', '-L', `127.0.0.1:${port}:dp`], env);
    await listening(port);
    paths.bridge = { port, roles: ['sender', 'relay', 'listener'], pids: [local.child.pid, server.child.pid, remote.child.pid] };
  }
  // Warm both paths up (JIT, TLS sessions, the first rendezvous) before anything is timed.
  for (const path of Object.values(paths)) await transfer(path.port, 'u');
  const results = {};
  for (let round = 0; round < rounds; round++) {
    for (const direction of directions) {
      const names = Object.keys(paths);
      for (const name of round % 2 === 0 ? names : [...names].reverse()) {
        const path = paths[name];
        const before = path.pids.map(cpuOf);
        const rate = await transfer(path.port, direction);
        const after = path.pids.map(cpuOf);
        const gib = bytes / 2 ** 30;
        const entry = (results[`${name} ${direction}`] ??= { rates: [], cpu: path.roles.map(() => []) });
        entry.rates.push(rate);
        path.roles.forEach((_, i) => entry.cpu[i].push([(after[i][0] - before[i][0]) / gib, (after[i][1] - before[i][1]) / gib]));
      }
    }
  }
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  console.log(`${transport}, ${mib} MiB per transfer, ${rounds} rounds; MB/s per round, CPU s/GiB (user+system) per process, median`);
  for (const [label, { rates, cpu }] of Object.entries(results)) {
    const cpuText = ['sender', 'relay', 'listener']
      .map((role, i) => `${role} ${median(cpu[i].map(([u, s]) => u + s)).toFixed(2)} (${median(cpu[i].map(([u]) => u)).toFixed(2)}+${median(cpu[i].map(([, s]) => s)).toFixed(2)})`)
      .join(', ');
    console.log(`${label.padEnd(9)} ${rates.map((r) => (r / 1e6).toFixed(0)).join('/')} MB/s; ${cpuText}`);
  }
  for (const direction of directions) {
    const f = results[`floor ${direction}`];
    const b = results[`bridge ${direction}`];
    if (!f || !b) continue;
    const ratios = b.rates.map((r, i) => r / f.rates[i]);
    console.log(`ratio bridge/floor ${direction}: per round ${ratios.map((r) => r.toFixed(2)).join('/')}, median ${median(ratios).toFixed(2)}`);
  }
} finally {
  for (const proc of procs) proc.child.kill(!prof ? 'SIGKILL' : proc.name.startsWith('floor') ? 'SIGTERM' : 'SIGINT');
  if (process.env.HYBRIDGE_LOGS) for (const proc of procs) writeFileSync(join(process.env.HYBRIDGE_LOGS, `${proc.name}.log`), proc.output());
  await new Promise((r) => setTimeout(r, prof ? 1500 : 100));
  target.close();
  rmSync(data, { recursive: true, force: true });
}
