import type { BridgeConfig, LocalBinding } from './model.js';
import { poolProblems } from './pool-policy.js';

/**
 * The checks azbridge makes before it starts (reference/azbridge.md §1.1, "Startup checks"), plus
 * listeners that would collide and target pools whose bindings contradict each other. Returns one line per problem; empty means the bridge can start.
 */
export function validateRunnable(config: BridgeConfig): string[] {
  const problems: string[] = [];
  const forwards = [...config.localForward, ...config.remoteForward];
  if (forwards.length === 0) problems.push('You must specify at least one -L, -T, -R or -H forwarder.');
  if (!config.connection) {
    const without = forwards.filter((f) => f.connectionString === undefined);
    if (without.length > 0) {
      problems.push(
        `Connection string(s) undefined for ${without.map((f) => f.relayName).join(', ')}; ` +
          'set -x/AzureRelayConnectionString, -e/AzureRelayEndpoint, AZURE_BRIDGE_CONNECTIONSTRING or HYBRIDGE_CONNECTION_STRING. hybridge bridge -h for help.',
      );
    }
  }
  return problems.concat(duplicateListeners(config), poolProblems(config));
}

/** Two local bindings on the same address and port (or socket path) cannot both listen. */
function duplicateListeners(config: BridgeConfig): string[] {
  const seen = new Map<string, string>();
  const problems: string[] = [];
  for (const forward of config.localForward) {
    for (const binding of forward.bindings) {
      const key = listenKey(binding);
      const first = seen.get(key);
      if (first !== undefined) problems.push(`${describe(binding)} is bound twice (${first} and ${forward.source}).`);
      else seen.set(key, forward.source);
    }
  }
  return problems;
}

function listenKey(b: LocalBinding): string {
  return b.kind === 'unix' ? `unix ${b.path}` : `${b.kind} ${b.bindAddress ?? ''} ${b.port}`;
}

function describe(b: LocalBinding): string {
  if (b.kind === 'unix') return `Socket ${b.path}`;
  const address = b.bindAddress === undefined ? '' : b.bindAddress.includes(':') ? `[${b.bindAddress}]:` : `${b.bindAddress}:`;
  return `${b.kind.toUpperCase()} ${address}${b.port}`;
}
