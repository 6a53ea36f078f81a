import type { HybridConnectionStream, RelayedMessage } from '../../client/index.js';
import type { ProtocolHandler, TargetPools } from '../../forwarding/listener-end.js';
import { encodePreambleReply, PreambleDecoder, PreambleMode, type Preamble } from '../../protocol/azbridge-preamble.js';
import { withListenerId } from '../../protocol/port-announcement.js';
import type { Logger } from '../../util/logger.js';
import type { PoolSettings, RemoteBinding } from '../config/index.js';
import type { TrackedConnection } from '../../forwarding/lifecycle/tracked-connection.js';
import type { OutboundOptions } from '../outbound-address.js';
import { readDecoded } from '../../forwarding/read-decoded.js';
import { refuseStream } from '../../forwarding/refuse-stream.js';
import { PortTable } from './port-table.js';
import { serveDatagramTarget } from './serve-datagram.js';
import { serveStreamTarget } from './serve-stream.js';

export interface AzbridgeHandlerOptions extends OutboundOptions {
  /** The hybrid connection these bindings belong to (for messages). */
  relayName: string;
  log: Logger;
  /** How long the rest of the preamble may take after its first message (default 30 s). */
  preambleTimeoutMs?: number;
  /** UDP flows end after this long without a datagram (default 4 minutes, as azbridge). */
  udpIdleMs?: number;
  /** LoadBalancing / HealthCheck for target pools whose bindings do not state their own. */
  poolDefaults?: PoolSettings;
  /**
   * This listener's id (its sb-hc-id), put in front of unknown-port refusals so that a sender behind
   * a relay that cannot route by port name tries the other listeners (protocol/port-announcement.ts).
   */
  listenerId?: string;
}

/** The azbridge handler, with the health checks of its target pools to start and stop. */
export interface AzbridgeHandler extends ProtocolHandler {
  /** The logical port names served (what the listener announces in Hybridge-Ports). */
  readonly portNames: readonly string[];
  /** Starts the target pools' health checks. */
  start(): void;
  /** Stops them; connections already served are not touched. */
  close(): void;
  /** The target pools by port name, with their members (read live: health changes). */
  pools(): TargetPools;
}

const DEFAULT_PREAMBLE_TIMEOUT_MS = 30_000;

/**
 * The azbridge remote side (-T/-R targets) for connections whose first message is binary: reads the
 * preamble `01 00 mode len name`, finds the target by port name (reference/azbridge.md §1.6),
 * connects to it and only then answers `01 00 mode`; or refuses with `00 00 00` (version), `00 00 01`
 * / `00 00 FF` (stream/datagram mismatch), hybridge's `00 00 FE` (unknown port name; the names served here
 * go to the log only, never to the sender) or `00 00 FD` (target unreachable, with the failure code, or every target of the port
 * is down). Throws a config ValueError when the bindings of one target pool contradict each other.
 */
export function createAzbridgeHandler(bindings: readonly RemoteBinding[], options: AzbridgeHandlerOptions): AzbridgeHandler {
  const table = new PortTable(bindings, { relayName: options.relayName, log: options.log, outbound: options, defaults: options.poolDefaults });
  const handler: ProtocolHandler = async (stream, first, connection) => {
    connection.update({ hyco: options.relayName });
    stream.on('error', () => undefined);
    const preamble = await readPreamble(stream, first, options, connection);
    if (!preamble) return;
    connection.update({ port: preamble.portName });
    const found = table.lookup(preamble.portName);
    if (!found) {
      // The sender learns only that the name is unknown; which names exist is for the operator's log.
      const reason = `no port named "${preamble.portName}" on relay ${options.relayName}`;
      const served = table.isEmpty ? 'none' : table.names.map((n) => `"${n}"`).join(', ');
      connection.end({ end: 'unknown-port', reason: `${reason}; ports served: ${served}` });
      return await refuseStream(stream, encodePreambleReply({ kind: 'unknown-port-name', reason: withListenerId(reason, options.listenerId) }));
    }
    const wantDatagram = preamble.mode === PreambleMode.Datagram;
    const streamPool = found.stream;
    const datagramPool = found.datagram;
    if (wantDatagram ? !datagramPool : !streamPool) {
      const reason = wantDatagram ? `port "${found.name}" forwards a stream, but UDP was requested` : `port "${found.name}" forwards UDP, but a stream was requested`;
      connection.end({ end: 'refused', reason });
      return await refuseStream(stream, encodePreambleReply({ kind: wantDatagram ? 'target-is-stream' : 'target-is-datagram' }));
    }
    connection.debug({ mode: wantDatagram ? 'datagram' : 'stream' }, 'preamble received');
    if (wantDatagram) connection.kind = 'datagram';
    if (wantDatagram && datagramPool) await serveDatagramTarget(stream, datagramPool, options, connection);
    else if (streamPool) await serveStreamTarget(stream, streamPool, options, connection);
  };
  return Object.assign(handler, { portNames: table.names, start: () => table.start(), close: () => table.close(), pools: () => [...table.entries()].map(({ port, pool }) => ({ port, members: pool.members })) });
}

/** The preamble, or undefined after answering/closing a connection that did not send a valid one. */
async function readPreamble(stream: HybridConnectionStream, first: RelayedMessage, options: AzbridgeHandlerOptions, connection: TrackedConnection): Promise<Preamble | undefined> {
  const decoder = new PreambleDecoder();
  let outcome;
  try {
    outcome = await readDecoded(stream, (chunk) => decoder.push(chunk), options.preambleTimeoutMs ?? DEFAULT_PREAMBLE_TIMEOUT_MS, first.data);
  } catch (err) {
    connection.end({ end: 'bad-preamble', reason: `incomplete preamble: ${(err as Error).message}` });
    stream.destroy();
    return undefined;
  }
  if (outcome.status === 'ended') {
    connection.end({ end: 'bad-preamble', reason: 'the sender closed before its preamble was complete' });
    await refuseStream(stream, undefined, 1000);
    return undefined;
  }
  if (outcome.status === 'text' || !outcome.value.ok) {
    const invalidName = outcome.status === 'complete' && !outcome.value.ok && outcome.value.problem === 'invalid-port-name';
    const reason = invalidName ? 'the port name is not valid UTF-8' : 'not an azbridge 1.0 preamble';
    connection.end({ end: 'bad-preamble', reason });
    await refuseStream(stream, encodePreambleReply(invalidName ? { kind: 'unknown-port-name', reason } : { kind: 'unsupported-version' }));
    return undefined;
  }
  return outcome.value.preamble;
}
