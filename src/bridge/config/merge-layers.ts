import { BridgeConfigError } from './config-error.js';
import { resolveConnection } from './credentials.js';
import { tooManyBindings } from './limits.js';
import type { ConfigLayer, LayerSettings, LocalForwardEntry } from './layer.js';
import {
  DEFAULT_EXIT_ON_FORWARD_FAILURE,
  DEFAULT_KEEP_ALIVE_SECONDS,
  DEFAULT_LOG_LEVEL,
  DEFAULT_MAX_UDP_FLOWS,
  type BridgeConfig,
  type RemoteForward,
} from './model.js';
import { mergeHealthCheck } from './pool-settings.js';

/**
 * Merges layers given lowest precedence first (reference/azbridge.md §2.3): a setting present in a
 * later layer replaces the earlier value; LocalForward and RemoteForward lists concatenate in order;
 * a layer with ClearAllForwardings: true drops the lists of the layers before it, then adds its own.
 * HealthCheck settings merge field by field (a later Interval keeps an earlier Timeout).
 * Unlike azbridge, KeepAliveInterval from a later layer wins even when it is 30. More than
 * MAX_FORWARD_BINDINGS bindings in all is a BridgeConfigError.
 */
export function mergeLayers(layers: readonly ConfigLayer[]): BridgeConfig {
  const settings: LayerSettings = {};
  let localForward: LocalForwardEntry[] = [];
  let remoteForward: RemoteForward[] = [];
  let healthCheck: LayerSettings['healthCheck'];
  for (const layer of layers) {
    for (const [key, value] of Object.entries(layer.settings)) {
      if (value !== undefined) (settings as Record<string, unknown>)[key] = value;
    }
    settings.healthCheck = mergeHealthCheck(healthCheck, layer.settings.healthCheck);
    healthCheck = settings.healthCheck;
    if (layer.clearAllForwardings) {
      localForward = [];
      remoteForward = [];
    }
    localForward = localForward.concat(layer.localForward);
    remoteForward = remoteForward.concat(layer.remoteForward);
  }
  let bindings = 0;
  for (const forward of [...localForward, ...remoteForward]) bindings += forward.bindings.length;
  const problem = tooManyBindings(bindings, 'the configuration');
  if (problem) throw new BridgeConfigError(problem);
  const prewarm = settings.prewarm ?? 0;
  const connection = resolveConnection(layers);
  return {
    ...(connection && { connection }),
    addressFamily: settings.addressFamily ?? 'any',
    ...(settings.bindAddress !== undefined && { bindAddress: settings.bindAddress }),
    gatewayPorts: settings.gatewayPorts ?? false,
    keepAliveInterval: settings.keepAliveInterval ?? DEFAULT_KEEP_ALIVE_SECONDS,
    ...(settings.connectTimeout !== undefined && { connectTimeout: settings.connectTimeout }),
    connectionAttempts: settings.connectionAttempts,
    exitOnForwardFailure: settings.exitOnForwardFailure ?? DEFAULT_EXIT_ON_FORWARD_FAILURE,
    logLevel: settings.logLevel ?? DEFAULT_LOG_LEVEL,
    ...(settings.logFileName !== undefined && { logFileName: settings.logFileName }),
    prewarm,
    maxUdpFlows: settings.maxUdpFlows ?? DEFAULT_MAX_UDP_FLOWS,
    ...(settings.loadBalancing !== undefined && { loadBalancing: settings.loadBalancing }),
    ...(settings.healthCheck !== undefined && { healthCheck: settings.healthCheck }),
    localForward: localForward.map((entry) => ({ ...entry, prewarm: entry.prewarm ?? prewarm })),
    remoteForward,
  };
}
