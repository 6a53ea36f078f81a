import type { Command } from 'commander';
import { formatStatus, statusReport } from '../observability/status/status-table.js';
import type { RelayStatusView } from '../observability/status/relay-status.js';
import { sleep } from '../util/sleep.js';
import { parseDurationOption } from './common-options.js';
import { fail } from './errors.js';
import { clientFromFlags } from './management/client-from-flags.js';
import { addManagementOptions, subcommand, type ManagementFlags } from './management/options.js';
import { callRelay } from './management/run.js';

interface StatusFlags extends ManagementFlags {
  interval: string;
}

/** `hybridge status`: the relay at a glance, like `kubectl get`. */
export function registerStatusCommand(program: Command): void {
  const command = subcommand(program, 'status', 'show a hybridge relay\'s hybrid connections, listeners, connections and rates')
    .option('--interval <duration>', 'rates are measured over this long (two requests); 0 for none', '1s');
  addManagementOptions(command, [
    'hybridge status -x "$CS"                 # one screen: hybrid connections, listeners, connections, rates',
    'hybridge status -x "$CS" -o json         # the same as JSON (the relay\'s /$hybridge/v1/status, with rates)',
    'hybridge status -x "$CS" --interval 0    # no rates, one request',
  ])
    .addHelpText('after', `
Needs a namespace-level Manage rule. In a cluster it shows the node that answered (listener counts are
cluster-wide). See docs/operations.md.`)
    .action(async (flags: StatusFlags, cmd: Command) => runStatus(flags, cmd.getOptionValueSource('output') === 'default' ? 'table' : flags.output.toLowerCase()));
}

async function runStatus(flags: StatusFlags, format: string): Promise<void> {
  if (format !== 'json' && format !== 'table') fail(`-o/--output must be table or json for status, not "${flags.output}"`);
  const intervalMs = parseDurationOption(flags.interval, '--interval');
  if (intervalMs < 0 || intervalMs > 60_000) fail('--interval must be from 0 to 60s');
  const client = clientFromFlags(flags);
  const first = intervalMs > 0 ? ((await callRelay(client, (c) => c.status())) as RelayStatusView) : undefined;
  if (first) await sleep(intervalMs);
  const second = (await callRelay(client, (c) => c.status())) as RelayStatusView;
  const report = statusReport(first, second);
  if (format === 'json') process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  else process.stdout.write(formatStatus(report, client.baseUrl));
}
