/**
 * Port-name-aware routing, a hybridge extension of the Hybrid Connections handshakes (Azure Relay
 * and azbridge ignore both headers; the service passes unknown sender headers on to the listener in
 * `accept.connectHeaders`, and takes unknown headers on a listen handshake without a word):
 *
 *   listen handshake:   Hybridge-Ports: name1,name2      the logical port names this listener serves
 *   connect handshake:  Hybridge-Port: name              the port name the sender's preamble will ask for
 *
 * Each name is percent-encoded (encodeURIComponent), so any UTF-8 name up to 255 bytes and commas in
 * names travel. An empty `Hybridge-Ports` says "no azbridge ports" (an -H-only listener); a listener
 * without the header announced nothing (an azbridge listener, or an older hybridge one).
 *
 * When a hybridge listener refuses an unknown port name (`00 00 FE`), its reason starts with
 * `[listener <id>] ` (first, so that cutting a long reason at 255 bytes keeps it), its control channel's sb-hc-id: a sender behind a relay that cannot route
 * (Azure) tries again with that id in Microsoft-Relay-DisallowedListeners.
 */
import { MAX_PORT_NAME_BYTES } from './azbridge-preamble.js';

export const PORTS_HEADER = 'Hybridge-Ports';
export const PORT_HEADER = 'Hybridge-Port';
/** Names one listener may announce; more is refused (the header has to stay well inside the head limit). */
export const MAX_ANNOUNCED_PORTS = 256;

export class PortAnnouncementError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PortAnnouncementError';
  }
}

export function encodePortList(names: readonly string[]): string {
  return names.map(encodePortName).join(',');
}

export function encodePortName(name: string): string {
  return encodeURIComponent(name);
}

/** The names of a Hybridge-Ports value; throws PortAnnouncementError on a malformed or oversized one. */
export function parsePortList(value: string): string[] {
  if (value.trim() === '') return [];
  const parts = value.split(',');
  if (parts.length > MAX_ANNOUNCED_PORTS) throw new PortAnnouncementError(`${PORTS_HEADER} names ${parts.length} ports; at most ${MAX_ANNOUNCED_PORTS} are allowed`);
  return parts.map((part) => parsePortName(part.trim(), PORTS_HEADER));
}

/** A Hybridge-Port value; throws PortAnnouncementError when it is not one valid name. */
export function parsePortName(value: string, header = PORT_HEADER): string {
  let name: string;
  try {
    name = decodeURIComponent(value);
  } catch {
    throw new PortAnnouncementError(`${header} has malformed percent-encoding`);
  }
  const bytes = Buffer.byteLength(name, 'utf8');
  if (bytes === 0 || bytes > MAX_PORT_NAME_BYTES) throw new PortAnnouncementError(`${header}: a port name is 1 to ${MAX_PORT_NAME_BYTES} bytes`);
  return name;
}

/**
 * Which of `served` answers a preamble asking for `requested` (reference/azbridge.md §1.6): the
 * exact, case-sensitive name; or, when exactly one name is served and a number is asked for, that
 * one (azbridge PR #55: `-L 13389:relay` with `-T relay:3389`).
 */
export function resolvePortName(served: readonly string[], requested: string): string | undefined {
  if (served.includes(requested)) return requested;
  return served.length === 1 && /^\d+$/.test(requested) ? served[0] : undefined;
}

const LISTENER_PREFIX = /^\[listener ([A-Za-z0-9_.:-]{1,64})\] /;

/** The reason of a `00 00 FE` refusal with the refusing listener's id in front. */
export function withListenerId(reason: string, listenerId: string | undefined): string {
  const tagged = `[listener ${listenerId}] ${reason}`;
  return listenerId && LISTENER_PREFIX.test(tagged) ? tagged : reason;
}

/** The reason without the listener tag, for people. */
export function withoutListenerId(reason: string): string {
  return reason.replace(LISTENER_PREFIX, '');
}

/** The listener id at the start of a refusal reason, if a hybridge listener put one there. */
export function listenerIdInReason(reason: string): string | undefined {
  return LISTENER_PREFIX.exec(reason)?.[1];
}
