// Throughput of multiplexed streams against plain relayed connections, same relay, same run: one
// `hybridge server`, one relay-listener, and two relay-sender port-forwards to one byte sink/source
// (one with --mux 1, one with --mux 0), all real processes on loopback. Alternates the two for ROUNDS
// rounds of one stream each (upload: client to sink; download: source to client), then runs STREAMS
// concurrent streams over mux and reports each stream's rate against their mean.
//
//   node scripts/mux-throughput.mjs [MIB=256] [ROUNDS=3] [STREAMS=8]
//   HYBRIDGE_CPU_PROF=dir  also writes --cpu-prof profiles of the ends there; HYBRIDGE_LOGS=dir their output;
//   HYBRIDGE_ONLY=mux|plain runs one of the two; HYBRIDGE_BIN=path/main.js runs another build.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { processGroup, waitFor } from './lib-processes.mjs';
import { freePort, startTarget, transfer as transferBytes } from './lib-transfer.mjs';

const mib = Number(process.argv[2] ?? 256);
const rounds = Number(process.argv[3] ?? 3);
const streamCount = Number(process.argv[4] ?? 8);
const bytes = mib * 2 ** 20;
const target = await startTarget(bytes);
const targetAddr = `127.0.0.1:${target.address().port}`;
const transfer = (port, direction) => transferBytes(port, direction, bytes);
const key = 'mux-throughput-root-key-0123456789';
const data = mkdtempSync(join(tmpdir(), 'hybridge-mux-throughput-'));
const prof = process.env.HYBRIDGE_CPU_PROF;
const { procs, start: startProcess } = processGroup(data, process.env.HYBRIDGE_NODE_FLAGS?.split(' ').filter(Boolean) ?? []);
const start = (name, args, env) => startProcess(name, args, env, prof ? ['--cpu-prof', `--cpu-prof-dir=${prof}`, `--cpu-prof-name=${name}.cpuprofile`] : []);

const mbps = (r) => (r / 1e6).toFixed(0);
const ticks = 100; // USER_HZ
/** CPU seconds (user + system) used so far by the processes in `pids`. */
function cpuSeconds(pids) {
  let sum = 0;
  for (const pid of pids) {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    sum += (Number(fields[11]) + Number(fields[12])) / ticks;
  }
  return sum;
}

try {
  const port = await freePort();
  const server = start('server', ['server', '--port', String(port), '--hyco', 'tp', '--root-key', key, '--data', join(data, 'relay'), '--log-level', 'warn']);
  await waitFor(server, /key of RootManageSharedAccessKey/);
  const relay = ['--relay', `ws://127.0.0.1:${port}`, '--hyco', 'tp', '--log-level', 'info'];
  const env = { AZTUNNEL_KEY_NAME: 'RootManageSharedAccessKey', AZTUNNEL_KEY: key };
  const listener = start('listener', ['relay-listener', ...relay, '--allow', targetAddr], env);
  await waitFor(listener, /listener online/);
  console.log(`listener pid ${listener.child.pid}, relay pid ${server.child.pid}`);
  const senders = {};
  const senderPids = {};
  for (const [mode, n] of [['mux', 1], ['plain', 0]]) {
    const proc = start(`sender-${mode}`, ['relay-sender', 'port-forward', targetAddr, '-b', '127.0.0.1:0', '--mux', String(n), ...relay], env);
    senderPids[mode] = proc.child.pid;
    senders[mode] = Number((await waitFor(proc, /listening on 127\.0\.0\.1:(\d+)/))[1]);
    console.log(`${mode} sender pid ${proc.child.pid}`);
    if (n > 0) await waitFor(proc, /multiplexed session open/);
  }
  if (process.env.HYBRIDGE_PAUSE) await new Promise((r) => setTimeout(r, Number(process.env.HYBRIDGE_PAUSE)));
  const results = { mux: { u: [], d: [] }, plain: { u: [], d: [] } };
  const cpu = { mux: { u: [], d: [] }, plain: { u: [], d: [] } };
  const pidsOf = (mode) => [server.child.pid, listener.child.pid, senderPids[mode]];
  for (let round = 0; round < rounds; round++) {
    for (const direction of ['u', 'd']) {
      const order = (round % 2 === 0 ? ['plain', 'mux'] : ['mux', 'plain']).filter((mode) => !process.env.HYBRIDGE_ONLY || mode === process.env.HYBRIDGE_ONLY);
      for (const mode of order) {
        const before = cpuSeconds(pidsOf(mode));
        results[mode][direction].push(await transfer(senders[mode], direction));
        cpu[mode][direction].push((cpuSeconds(pidsOf(mode)) - before) / (bytes / 2 ** 30));
      }
    }
  }
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  for (const direction of ['u', 'd']) {
    const name = direction === 'u' ? 'upload' : 'download';
    const m = results.mux[direction];
    const p = results.plain[direction];
    if (m.length === 0 || p.length === 0) {
      const [mode, xs] = m.length ? ['mux', m] : ['plain', p];
      console.log(`${name.padEnd(8)} 1 stream, ${mode}: ${xs.map(mbps).join('/')} MB/s; CPU s/GiB ${cpu[mode][direction].map((c) => c.toFixed(2)).join('/')}`);
      continue;
    }
    console.log(`${name.padEnd(8)} 1 stream: mux ${m.map(mbps).join('/')} MB/s, plain ${p.map(mbps).join('/')} MB/s; median ratio ${(median(m) / median(p)).toFixed(2)}`);
    const c = (mode) => median(cpu[mode][direction]).toFixed(2);
    console.log(`${''.padEnd(8)} CPU s/GiB (sender + relay + listener, median): mux ${c('mux')}, plain ${c('plain')}`);
  }
  if (streamCount > 0) {
    for (const direction of ['u', 'd']) {
      const rates = await Promise.all(Array.from({ length: streamCount }, () => transfer(senders.mux, direction)));
      const mean = rates.reduce((a, b) => a + b, 0) / rates.length;
      const spread = Math.max(...rates.map((r) => Math.abs(r - mean) / mean));
      console.log(`${(direction === 'u' ? 'upload' : 'download').padEnd(8)} ${streamCount} streams over mux: ${rates.map(mbps).join(' ')} MB/s; mean ${mbps(mean)}, worst ${(spread * 100).toFixed(0)} % from it`);
    }
  }
} finally {
  for (const proc of procs) proc.child.kill(prof ? 'SIGINT' : 'SIGKILL');
  if (process.env.HYBRIDGE_LOGS) for (const proc of procs) writeFileSync(join(process.env.HYBRIDGE_LOGS, `${proc.name}.log`), proc.output());
  await new Promise((r) => setTimeout(r, prof ? 1500 : 100));
  target.close();
  rmSync(data, { recursive: true, force: true });
}
