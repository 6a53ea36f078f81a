import type { Command } from 'commander';
import { DEFAULT_RELAY_LIMITS, LIMIT_UNITS, type RelayLimits } from '../relay/limits.js';
import { formatByteSize, parseByteSize } from '../util/byte-size.js';
import { parseDuration } from '../util/duration.js';
import { fail } from './errors.js';

interface LimitFlag {
  key: Exclude<keyof RelayLimits, 'maxListenersPerHyco'>;
  flag: string;
  /** Smallest value that still lets the relay work. */
  min: number;
  help: string;
}

/** `hybridge server` flags for the relay's limits (docs/security.md explains each). --max-listeners stays in server.ts. */
const LIMIT_FLAGS: readonly LimitFlag[] = [
  { key: 'maxRequestTargetBytes', flag: '--max-request-target', min: 1024, help: 'longest request path and query, checked before any lookup (414 above)' },
  { key: 'maxHeaderBytes', flag: '--max-header-size', min: 4096, help: 'largest request head, request line and headers (431 above)' },
  { key: 'headerTimeoutMs', flag: '--header-timeout', min: 100, help: 'time a request head may take to arrive (then 408, connection closed)' },
  { key: 'handshakeTimeoutMs', flag: '--handshake-timeout', min: 100, help: 'time a connection may stay open before it authenticates (then closed)' },
  { key: 'idleTimeoutMs', flag: '--idle-timeout', min: 100, help: 'an HTTP connection without traffic for this long is closed' },
  { key: 'maxUnauthenticatedPerAddress', flag: '--max-unauthenticated-per-address', min: 1, help: 'connections one client address may hold before they authenticate; more are closed at once (unless given, at most half of --max-sockets)' },
  { key: 'maxSockets', flag: '--max-sockets', min: 16, help: 'sockets in all; more are closed at once (unless given, at most the open-file limit less 256)' },
  { key: 'maxConnectionsPerNamespace', flag: '--max-connections', min: 1, help: "connections of the namespace on this node: listeners, senders, relayed connections, HTTP requests in flight (503 above; Azure's default)" },
  { key: 'maxPendingSendersPerHyco', flag: '--max-pending-senders', min: 1, help: 'senders waiting for a listener to accept, per hybrid connection (503 above)' },
  { key: 'maxControlChannelBufferedBytes', flag: '--max-control-buffer', min: 64 * 1024, help: 'bytes queued towards a listener that does not read its control channel: no more work above, closed 1008 after --write-stall-timeout' },
  { key: 'maxLegBufferedBytes', flag: '--max-leg-buffer', min: 128 * 1024, help: 'bytes the relay itself may queue towards a relayed leg beyond backpressure (closed 1008 above)' },
  { key: 'writeStallMs', flag: '--write-stall-timeout', min: 100, help: 'how long a control channel or request rendezvous may stay over its buffer budget before it is closed 1008' },
  { key: 'maxControlMessageBytes', flag: '--max-control-message', min: 4096, help: 'largest JSON command a listener may send on a control channel or request rendezvous (1009 above)' },
  { key: 'maxControlBodyBytes', flag: '--max-control-body', min: 64 * 1024, help: 'largest response body a listener may send inline on its control channel (1009 above)' },
];

/** Registers the limit flags on `hybridge server`. */
export function addLimitOptions(command: Command): Command {
  for (const { key, flag, help } of LIMIT_FLAGS) {
    const unit = LIMIT_UNITS[key];
    const placeholder = unit === 'bytes' ? '<size>' : unit === 'ms' ? '<duration>' : '<n>';
    command.option(`${flag} ${placeholder}`, `${help} (default ${describeDefault(key)})`);
  }
  return command;
}

/** The limits given on the command line (parsed, checked); unset ones are left out. */
export function limitsFromFlags(flags: object): Partial<RelayLimits> {
  const given = flags as Record<string, unknown>;
  const limits: Partial<RelayLimits> = {};
  for (const { key, flag, min } of LIMIT_FLAGS) {
    const text = given[attributeOf(flag)];
    if (text === undefined) continue;
    const value = parseLimit(key, flag, String(text));
    if (value < min) fail(`${flag} must be at least ${LIMIT_UNITS[key] === 'bytes' ? formatByteSize(min) : LIMIT_UNITS[key] === 'ms' ? `${min}ms` : min}`);
    limits[key] = value;
  }
  return limits;
}

function parseLimit(key: keyof RelayLimits, flag: string, text: string): number {
  const unit = LIMIT_UNITS[key];
  try {
    if (unit === 'bytes') return parseByteSize(text);
    if (unit === 'ms') return parseDuration(text);
  } catch (err) {
    fail(`${flag}: ${(err as Error).message}`);
  }
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(Number(text))) fail(`${flag} must be a whole number, not "${text}"`);
  return Number(text);
}

function describeDefault(key: keyof RelayLimits): string {
  const value = DEFAULT_RELAY_LIMITS[key];
  const unit = LIMIT_UNITS[key];
  if (unit === 'bytes') return formatByteSize(value);
  if (unit === 'ms') return value % 1000 === 0 ? `${value / 1000}s` : `${value}ms`;
  return String(value);
}

/** commander's attribute name for a long flag: --max-header-size → maxHeaderSize. */
function attributeOf(flag: string): string {
  return flag.replace(/^--/, '').replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}
