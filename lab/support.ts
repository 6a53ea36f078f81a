/** Whether the lab can run here: Linux network namespaces and root. */
import { existsSync } from 'node:fs';

/**
 * Why the lab cannot run on this machine, or undefined when it can. Only a kernel without
 * network namespaces or a process without root counts: a missing ip, iptables or C compiler is an
 * installation error and fails loudly instead (CI installs them, see .ci/run).
 */
export function labUnavailable(): string | undefined {
  if (process.platform !== 'linux') return `the network-fault lab needs Linux network namespaces (this is ${process.platform})`;
  if (!existsSync('/proc/self/ns/net')) return 'the network-fault lab needs network namespaces, which this kernel lacks (CONFIG_NET_NS)';
  if (process.getuid?.() !== 0) return 'the network-fault lab needs root (ip netns, iptables); run as root to include these tests';
  return undefined;
}
