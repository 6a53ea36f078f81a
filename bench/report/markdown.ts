/** latest.md: machine and date, the targets with PASS/MISS, then one table per scenario. */
import { COST_SLOTS, costToFloor, type CpuCost } from './cpu-cost.js';
import { baselineColumns, formatValue, ratio } from './format.js';
import type { BenchResult, Figure, ScenarioResult } from './model.js';

function escape(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

/** Fraction of one core that programs outside the bench used during the measurement. */
export function disturbance(f: Figure): number {
  const cpu = f.detail?.cpuSeconds as Record<string, number> | undefined;
  return cpu && cpu.wall ? (cpu.other ?? 0) / cpu.wall : 0;
}

const DISTURBED = 0.25;

function valueCell(f: Figure): string {
  if (f.value === null) return `**ERROR**: ${f.errors} error${f.errors === 1 ? '' : 's'} (${escape((f.error ?? '').slice(0, 160))})`;
  return `${formatValue(f.value)}${disturbance(f) > DISTURBED ? ' †' : ''}`;
}

function scenarioSection(s: ScenarioResult): string[] {
  const labels = new Map(s.paths.map((p) => [p.id, p.label]));
  const cols = baselineColumns(s);
  const lines = [`## ${s.id.toUpperCase()}. ${s.title}`, '', s.description, ''];
  lines.push(`| path | figure | value | unit | ${cols.map((c) => c.title).join(' | ')}${cols.length ? ' |' : ''}`);
  lines.push(`|---|---|---:|---|${cols.map(() => '---:|').join('')}`);
  const order = s.paths.map((p) => p.id);
  const figures = [...s.figures].sort((a, b) => order.indexOf(a.path) - order.indexOf(b.path));
  for (const f of figures) {
    const ratios = cols.map((c) => ratio(s.figures, f, c.pathFor(f.path)));
    lines.push(`| ${escape(labels.get(f.path) ?? f.path)} | ${escape(f.label)} | ${valueCell(f)} | ${f.unit} | ${ratios.join(' | ')}${cols.length ? ' |' : ''}`);
  }
  lines.push('');
  lines.push(`Ratios are this path's figure divided by the baseline's, for the same figure in this run (for latencies and memory, lower is better). Scenario time: ${s.seconds.toFixed(0)} s.`);
  const disturbed = s.figures.filter((f) => f.value !== null && disturbance(f) > DISTURBED);
  if (disturbed.length) lines.push(`† Programs outside the bench used more than ${DISTURBED * 100}% of a core during this measurement (up to ${Math.round(Math.max(...disturbed.map(disturbance)) * 100)}%); treat the figure with care.`);
  for (const note of s.notes) lines.push(`- ${note}`);
  lines.push('');
  if (s.cpuCosts?.length) lines.push(...cpuCostSection(s.cpuCosts, labels));
  return lines;
}

const SLOT_TITLES: Record<(typeof COST_SLOTS)[number], string> = { sender: 'sender end', relay: 'relay', listener: 'listener end' };

/** CPU per GiB or per connection of each path's own processes, next to the floors', socat's and ssh -L's. */
function cpuCostSection(costs: CpuCost[], labels: Map<string, string>): string[] {
  const cell = (v: number | undefined) => (v === undefined ? '' : formatValue(v));
  const lines = [
    `| path | measured | unit | ${COST_SLOTS.map((k) => SLOT_TITLES[k]).join(' | ')} | ends + relay | × Node floor | per process |`,
    `|---|---|---|${COST_SLOTS.map(() => '---:|').join('')}---:|---:|---|`,
  ];
  for (const c of costs) {
    const toFloor = costToFloor(costs, c);
    const processes = Object.entries(c.byProcess).map(([role, v]) => `${role} ${formatValue(v)}`).join(', ');
    lines.push(`| ${escape(labels.get(c.path) ?? c.path)} | ${c.measurement} | ${c.unit} | ${COST_SLOTS.map((k) => cell(c.bySlot[k])).join(' | ')} | ${formatValue(c.sum)} | ${toFloor === undefined ? '' : `${toFloor.toFixed(2)}×`} | ${escape(processes)} |`);
  }
  lines.push('', 'CPU cost: user + system time (/proc/PID/stat) each process used during the measurement, per GiB moved (CPU seconds) or per connection set up (CPU ms); ends + relay is the sum of the path\'s own processes (the target and the driver are the same for every path and left out). × Node floor divides that sum by the floor chain\'s (the TLS one for TLS paths): in s1 the floor measured beside the path (right before and after it, same target), elsewhere the floor row of the same run.', '');
  return lines;
}

export function renderMarkdown(r: BenchResult): string {
  const m = r.machine;
  const lines = [
    '# hybridge benchmark',
    '',
    `- Date: ${r.date}`,
    `- Machine: ${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB, ${m.os}`,
    `- Node: ${m.node}`,
    `- Mode: ${r.mode} (${(r.seconds / 60).toFixed(1)} min); options: \`${JSON.stringify(r.options)}\``,
    ...(r.loadAverage ? [`- Load average (1, 5, 15 min): ${r.loadAverage.start.join(', ')} at the start, ${r.loadAverage.end.join(', ')} at the end`] : []),
    '',
    'Every process (relay, each hybridge end, target, driver, socat, sshd, ssh) runs separately on 127.0.0.1. Hybridge paths get a fresh relay per path and scenario.',
    '',
    '## Targets',
    '',
    '| target | path | measured | status |',
    '|---|---|---|---|',
    ...r.targets.map((t) => `| ${t.id}: ${escape(t.text)} | ${t.path} | ${escape(t.measured)} | ${t.status === 'PASS' ? 'PASS' : t.status === 'MISS' ? '**MISS**' : 'N/A'} |`),
    '',
  ];
  for (const s of r.scenarios) lines.push(...scenarioSection(s));
  if (r.notes.length) lines.push('## Notes', '', ...r.notes.map((n) => `- ${n}`), '');
  return lines.join('\n');
}
