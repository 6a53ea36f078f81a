// Many concurrent multiplexed streams between one relay-sender and one relay-listener, through a
// `hybridge server`, all real processes on loopback: opens COUNT connections to the port-forward
// (each writes one byte and waits for its echo, then stays open), and reports the resident memory
// of each end and of the relay before and after, per stream. Needs a high open-file limit (it raises
// one socket per stream in each process: the open-file limit caps COUNT a little below it).
//
//   node scripts/mux-streams.mjs [COUNT=20000] [SESSIONS=24]
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { processGroup, waitFor } from './lib-processes.mjs';

const count = Number(process.argv[2] ?? 20_000);
const sessions = Number(process.argv[3] ?? 24);
const key = 'mux-streams-root-key-0123456789';
const data = mkdtempSync(join(tmpdir(), 'hybridge-mux-streams-'));
const { procs, start } = processGroup(data, ['--max-old-space-size=4096']);

function rssKiB(pid) {
  const m = readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmRSS:\s+(\d+) kB/);
  return Number(m[1]);
}

async function settledRss(pid) {
  // Let garbage collection and the allocator settle a little, then read.
  await new Promise((r) => setTimeout(r, 1500));
  return rssKiB(pid);
}

// The echo target runs in a process of its own: each process here holds one socket per stream, and
// the open-file limit (20000 on the machine this was written on) counts per process.
const echoSource = "const s=require('net').createServer({allowHalfOpen:true},(c)=>{c.on('error',()=>{});c.pipe(c)}).listen(0,'127.0.0.1',()=>console.log('echo '+s.address().port))";
const echo = spawn(process.execPath, ['-e', echoSource], { stdio: ['ignore', 'pipe', 'inherit'] });
const echoPort = await new Promise((resolve) => echo.stdout.once('data', (d) => resolve(Number(String(d).split(' ')[1]))));
const target = `127.0.0.1:${echoPort}`;

try {
  const probe = createServer().listen(0, '127.0.0.1');
  await new Promise((r) => probe.once('listening', r));
  const port = probe.address().port;
  await new Promise((r) => probe.close(r));
  const server = start('server', ['server', '--port', String(port), '--hyco', 'streams', '--root-key', key, '--data', join(data, 'relay'), '--log-level', 'warn', '--max-connections', '100000']);
  await waitFor(server, /key of RootManageSharedAccessKey/);
  const relay = ['--relay', `ws://127.0.0.1:${port}`, '--hyco', 'streams', '--log-level', 'warn'];
  const env = { AZTUNNEL_KEY_NAME: 'RootManageSharedAccessKey', AZTUNNEL_KEY: key };
  const listener = start('relay-listener', ['relay-listener', ...relay, '--allow', target, '--log-level', 'info'], env);
  await waitFor(listener, /listener online/);
  const sender = start('relay-sender', ['relay-sender', 'port-forward', target, '-b', '127.0.0.1:0', '--mux', String(sessions), ...relay.slice(0, -2), '--log-level', 'info'], env);
  const pf = Number((await waitFor(sender, /listening on 127\.0\.0\.1:(\d+)/))[1]);
  const deadline = Date.now() + 20_000;
  while ((sender.output().match(/multiplexed session open/g) ?? []).length < sessions && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  const ends = { sender: sender.child.pid, listener: listener.child.pid, relay: server.child.pid };
  const before = {};
  for (const [name, pid] of Object.entries(ends)) before[name] = await settledRss(pid);

  const sockets = [];
  let errors = 0;
  const started = Date.now();
  const openOne = () =>
    new Promise((resolve) => {
      const socket = createConnection({ port: pf, host: '127.0.0.1' });
      sockets.push(socket);
      socket.once('error', () => {
        errors++;
        resolve();
      });
      socket.once('data', () => resolve());
      socket.write('x');
    });
  for (let i = 0; i < count; i += 500) await Promise.all(Array.from({ length: Math.min(500, count - i) }, openOne));
  const openMs = Date.now() - started;
  const after = {};
  for (const [name, pid] of Object.entries(ends)) after[name] = await settledRss(pid);
  const streamsLogged = (listener.output().match(/tunnel open/g) ?? []).length;
  const relayed = (sender.output().match(/multiplexed session open/g) ?? []).length;
  console.log(`${count} streams on ${relayed} sessions opened in ${openMs} ms; errors ${errors}; listener logged ${streamsLogged} tunnels`);
  for (const name of Object.keys(ends)) {
    const per = ((after[name] - before[name]) * 1024) / count;
    console.log(`${name.padEnd(9)} RSS ${Math.round(before[name] / 1024)} MiB -> ${Math.round(after[name] / 1024)} MiB: ${(per / 1024).toFixed(1)} KiB per stream`);
  }
  for (const socket of sockets) socket.destroy();
} finally {
  for (const proc of procs) proc.child.kill('SIGKILL');
  echo.kill('SIGKILL');
  rmSync(data, { recursive: true, force: true });
}
