import { ForwarderStartError, type BridgeHost } from '../bridge/bridge-host.js';
import { BridgeConfigError, validateRunnable, type BridgeConfig } from '../bridge/config/index.js';
import type { EndMetrics } from '../observability/metrics/end-metrics.js';
import { reopenLogFiles, type Logger } from '../util/logger.js';
import { CliError } from './errors.js';

/**
 * SIGHUP on `hybridge bridge`: the configuration files are read again and the bridge moves to them
 * (BridgeHost.reload); the log file is reopened. A configuration that does not load, does not
 * validate or cannot start is refused with one line and the running one carries on.
 */
export async function reloadBridge(host: BridgeHost, read: () => BridgeConfig, log: Logger, metrics: EndMetrics | undefined): Promise<void> {
  reopenLogFiles();
  let config: BridgeConfig;
  try {
    config = read();
  } catch (err) {
    // A secret file that cannot be read is a CliError.
    if (!(err instanceof BridgeConfigError || err instanceof CliError)) throw err;
    log.error({ reason: err.message }, 'SIGHUP: new configuration refused; the running one carries on');
    return;
  }
  const problems = validateRunnable(config);
  if (problems.length > 0) {
    log.error({ reason: problems.join('; ') }, 'SIGHUP: new configuration refused; the running one carries on');
    return;
  }
  try {
    const summary = await host.reload(config);
    metrics?.observePools(host.pools());
    log.info({ ...summary, connections: host.lifecycle.size }, 'SIGHUP: configuration reloaded; live connections carry on');
  } catch (err) {
    if (!(err instanceof ForwarderStartError)) throw err;
    log.error({ reason: err.message }, 'SIGHUP: new configuration refused (a forwarder could not start); the running one carries on');
  }
}
