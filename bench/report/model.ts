/** The bench's results: what latest.json holds and the Markdown and SVG reports are drawn from. */
import type { CpuCost } from './cpu-cost.js';

export type Better = 'higher' | 'lower';

export interface Figure {
  scenario: string;
  path: string;
  metric: string;
  label: string;
  /** null when the measurement had errors (then `error` says what happened). */
  value: number | null;
  unit: string;
  better: Better;
  errors: number;
  error?: string;
  detail?: Record<string, unknown>;
}

export interface PathInfo {
  id: string;
  label: string;
  kind: 'baseline' | 'hybridge' | 'library';
  transport?: 'ws' | 'tls';
}

export interface ScenarioResult {
  id: string;
  title: string;
  description: string;
  paths: PathInfo[];
  figures: Figure[];
  /** Skipped paths and other remarks. */
  notes: string[];
  seconds: number;
  /** CPU per GiB moved and per connection set up, per process and summed (derived from the figures' CPU detail). */
  cpuCosts?: CpuCost[];
}

export type TargetStatus = 'PASS' | 'MISS' | 'N/A';

export interface TargetResult {
  id: string;
  text: string;
  path: string;
  status: TargetStatus;
  /** e.g. "1.83× ssh -L (612 vs 334 MB/s)" */
  measured: string;
}

export interface Machine {
  cpu: string;
  cores: number;
  memoryGiB: number;
  node: string;
  os: string;
}

export interface BenchResult {
  date: string;
  mode: string;
  machine: Machine;
  seconds: number;
  options: Record<string, unknown>;
  notes: string[];
  scenarios: ScenarioResult[];
  targets: TargetResult[];
  /** The 1, 5 and 15 minute load averages when the run started and ended (other programs on the machine). */
  loadAverage?: { start: number[]; end: number[] };
}
