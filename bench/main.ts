/**
 * `npm run bench`: runs the scenarios over hybridge and the baselines, all as separate processes on
 * 127.0.0.1, and writes bench/results/latest.{json,md,svg}. Progress goes to stderr.
 */
import { existsSync, rmSync } from 'node:fs';
import { cpus, loadavg, release, totalmem, type } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PROFILES, type Profile } from './config.js';
import { createContext, hybridgeCli } from './lib/context.js';
import { killAllNow, stopAllProcesses } from './lib/procs.js';
import { elapsedSeconds, progress } from './lib/progress.js';
import { parseOptions, USAGE, type BenchOptions } from './options.js';
import { SOCAT_BUFFER } from './paths/baselines.js';
import type { BenchContext } from './paths/types.js';
import { cpuCosts } from './report/cpu-cost.js';
import type { BenchResult, ScenarioResult } from './report/model.js';
import { evaluateTargets } from './report/targets.js';
import { writeResults } from './report/write.js';
import { SCENARIO_GROUPS, SCENARIOS } from './scenarios/index.js';
import { runScenario } from './scenarios/runner.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

function machine(): BenchResult['machine'] {
  return {
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    os: `${type()} ${release()}`,
  };
}

function runNotes(ctx: BenchContext, profile: Profile): string[] {
  const notes = [
    `socat runs as \`socat -b ${SOCAT_BUFFER} TCP4-LISTEN:port,bind=127.0.0.1,reuseaddr,fork,backlog=4096 TCP4:target\`; ssh as \`ssh -N -L\` with its default cipher to a throw-away sshd (ed25519 keys, UsePAM no).`,
    'Hybridge ends run with -q / --log-level warn (no per-connection log lines); the relay with --log-level warn.',
    `The driver and the target are the same programs for every path (bench/tools). Bulk receivers check every byte ${profile.bulkCheck === 'sha256' ? 'by SHA-256 of the whole stream' : 'against the expected pattern stream (exact comparison; --sha256 hashes instead, at ~1 s of CPU per GiB)'}; echo scenarios compare every echoed byte with what was sent.`,
    'The Node floor is three bare Node TCP forwarders in series (bench/tools/node-forwarder.ts: pipe() both ways, nothing else), the same three-process shape as a relayed connection (sender end, relay, listener end) without any protocol. It shows how much of a gap to socat or ssh -L the shape itself costs on this machine.',
    'hyco-ws is the unmodified hyco-ws@1.0.5 library (permessage-deflate off) in a small TCP forwarder pair (bench/tools/hyco-ws-forwarder.ts) through the hybridge relay.',
  ];
  const missing = Object.entries(ctx.tools).filter(([, v]) => !v).map(([k]) => k);
  if (missing.length) notes.push(`Missing baseline tools: ${missing.join(', ')}; install them with \`apt-get install socat openssh-server iperf3\`.`);
  for (const command of ['server', 'bridge', 'relay-listener', 'relay-sender']) {
    if (!ctx.commands.has(command)) notes.push(`\`hybridge ${command}\` is not in this build; its paths were skipped.`);
  }
  return notes;
}

function loadAverage(): number[] {
  return loadavg().map((v) => Math.round(v * 100) / 100);
}

/** --only's ids with groups (wan) expanded; throws on an id that names no scenario. */
function selectedScenarios(only: string[] | undefined): string[] | undefined {
  const ids = only?.flatMap((id) => SCENARIO_GROUPS[id] ?? [id]);
  const unknown = ids?.filter((id) => !SCENARIOS.some((s) => s.id === id));
  if (unknown?.length) throw new Error(`--only: no scenario ${unknown.join(', ')} (known: ${[...SCENARIOS.map((s) => s.id), ...Object.keys(SCENARIO_GROUPS)].join(', ')})`);
  return ids;
}

async function main(options: BenchOptions): Promise<number> {
  const profile = { ...PROFILES[options.profile], ...(options.sha256 ? { bulkCheck: 'sha256' as const } : {}) };
  const out = options.out ?? join(ROOT, 'bench', 'results');
  const ctx = createContext(ROOT, options.hybridge ? resolve(options.hybridge) : ROOT);
  let cleaned = false;
  const cleanup = async () => {
    if (cleaned) return;
    cleaned = true;
    await stopAllProcesses();
    rmSync(ctx.dir, { recursive: true, force: true });
  };
  process.on('exit', () => {
    killAllNow();
    rmSync(ctx.dir, { recursive: true, force: true });
  });
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      progress(`${signal}: stopping every process the bench started`);
      void cleanup().finally(() => process.exit(130));
    });
  }

  progress(`hybridge bench, ${profile.name} run; results to ${out}`);
  const missingTools = Object.entries(ctx.tools).filter(([, v]) => !v).map(([k]) => k);
  if (missingTools.length) progress(`missing tools: ${missingTools.join(', ')} (apt-get install socat openssh-server iperf3); their baselines are skipped`);
  const scenarios: ScenarioResult[] = [];
  const loadAtStart = loadAverage();
  try {
    const only = selectedScenarios(options.only);
    for (const scenario of SCENARIOS) {
      if (only && !only.includes(scenario.id)) continue;
      const result = await runScenario(ctx, profile, scenario, { paths: options.paths, tls: options.tls, profileDir: options.cpuProfile ? join(out, 'profiles') : undefined });
      scenarios.push({ ...result, cpuCosts: cpuCosts(result.figures) });
    }
  } finally {
    await cleanup();
  }
  const result: BenchResult = {
    date: new Date().toISOString(),
    mode: profile.name,
    machine: machine(),
    seconds: elapsedSeconds(),
    options: { check: profile.bulkCheck, ...(options.hybridge ? { hybridge: resolve(options.hybridge) } : {}), ...(options.only ? { only: options.only } : {}), ...(options.paths ? { paths: options.paths } : {}), tls: options.tls },
    notes: runNotes(ctx, profile),
    scenarios,
    targets: evaluateTargets(scenarios),
    loadAverage: { start: loadAtStart, end: loadAverage() },
  };
  const files = writeResults(out, result);
  const missed = result.targets.filter((t) => t.status === 'MISS').length;
  const passed = result.targets.filter((t) => t.status === 'PASS').length;
  progress(`done in ${(elapsedSeconds() / 60).toFixed(1)} min: ${passed} targets met, ${missed} missed; wrote ${files.join(', ')}`);
  return 0;
}

let options: BenchOptions;
try {
  options = parseOptions(process.argv.slice(2));
  selectedScenarios(options.only);
  if (options.hybridge && !existsSync(hybridgeCli(resolve(options.hybridge)))) throw new Error(`--hybridge: no built hybridge at ${hybridgeCli(resolve(options.hybridge))} (run npm run build there)`);
} catch (err) {
  process.stderr.write(`bench: ${(err as Error).message}\n${USAGE}`);
  process.exit(2);
}
if (options.help) {
  process.stdout.write(USAGE);
  process.exit(0);
}
main(options).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
