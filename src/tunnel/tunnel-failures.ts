/**
 * How a tunnel failure reaches the user: a listener's response becomes a TunnelFailure, and the
 * SOCKS5 proxy turns any failure into a SOCKS5 reply code.
 *
 * SOCKS5 mapping, and where it departs from aztunnel (which sends 0x04 for everything unlisted):
 *   target not allowed        0x02 not allowed by ruleset (aztunnel never sends 0x02)
 *   connection_refused        0x05
 *   network_unreachable       0x03
 *   host_unreachable          0x04
 *   timeout                   0x06 TTL expired: RFC 1928 has no "timed out" code, and 0x06 is what
 *                             other SOCKS servers send for ETIMEDOUT, so a client can tell a silent
 *                             target from an unreachable one (aztunnel sends 0x04)
 *   dns_not_found/dns_timeout 0x04 host unreachable, as socks5h proxies answer a name that does not resolve
 *   connection failed, other  0x04 (as aztunnel)
 *   listener at capacity      0x01 general failure: the target may be fine, the tunnel is not; 0x05
 *                             would wrongly say the target refused
 *   relay or protocol failure 0x01
 */
import { CAPACITY_CODE, type ConnectResponse, type DialFailureCode, isDialFailureCode, Rejection } from '../protocol/aztunnel-envelope.js';
import type { ConnectionEnd } from '../forwarding/lifecycle/connection-fields.js';
import { Socks5Reply, type Socks5ReplyCode } from './socks5-protocol.js';

export type TunnelFailure =
  | DialFailureCode
  /** "connection failed" without a code we know. */
  | 'dial_failed'
  | 'not_allowed'
  | typeof CAPACITY_CODE
  /** The listener refused the envelope itself (invalid, wrong version, missing or invalid target). */
  | 'rejected'
  /** No answer from a listener: relay unreachable, authentication, rendezvous or response errors. */
  | 'relay_failed';

/** Reads a refusal from an aztunnel or hybridge listener. Codes a newer peer invents count as no code. */
export function failureFromResponse(response: ConnectResponse): TunnelFailure {
  if (isDialFailureCode(response.code)) return response.code;
  if (response.code === CAPACITY_CODE || response.error === Rejection.AtCapacity) return CAPACITY_CODE;
  if (response.error === Rejection.TargetNotAllowed) return 'not_allowed';
  if (response.error === Rejection.ConnectionFailed) return 'dial_failed';
  return 'rejected';
}

const SOCKS5_REPLY_FOR: Record<TunnelFailure, Socks5ReplyCode> = {
  not_allowed: Socks5Reply.NotAllowedByRuleset,
  connection_refused: Socks5Reply.ConnectionRefused,
  network_unreachable: Socks5Reply.NetworkUnreachable,
  host_unreachable: Socks5Reply.HostUnreachable,
  timeout: Socks5Reply.TtlExpired,
  dns_not_found: Socks5Reply.HostUnreachable,
  dns_timeout: Socks5Reply.HostUnreachable,
  dial_failed: Socks5Reply.HostUnreachable,
  max_connections: Socks5Reply.GeneralFailure,
  rejected: Socks5Reply.GeneralFailure,
  relay_failed: Socks5Reply.GeneralFailure,
};

export function socks5ReplyFor(failure: TunnelFailure): Socks5ReplyCode {
  return SOCKS5_REPLY_FOR[failure];
}

/**
 * One line for the user: what went wrong with `target`, ending with the wire code in parentheses
 * so scripts and logs on both ends can be matched (e.g. "target 10.0.0.5:22 refused the connection
 * (connection_refused)"). `detail` adds the listener's error text or the relay error.
 */
export function describeTunnelFailure(target: string, failure: TunnelFailure, detail?: string): string {
  switch (failure) {
    case 'connection_refused':
      return `target ${target} refused the connection (connection_refused)`;
    case 'host_unreachable':
      return `target ${target} is unreachable from the listener (host_unreachable)`;
    case 'network_unreachable':
      return `the listener has no route to the network of ${target} (network_unreachable)`;
    case 'timeout':
      return `target ${target} did not answer within the listener's --connect-timeout (timeout)`;
    case 'dns_not_found':
      return `the listener cannot resolve the host of ${target} (dns_not_found)`;
    case 'dns_timeout':
      return `resolving the host of ${target} timed out at the listener (dns_timeout)`;
    case 'dial_failed':
      return `the listener could not connect to ${target} (connection failed)`;
    case 'not_allowed':
      return `the listener's --allow list does not permit ${target} (target not allowed)`;
    case 'max_connections':
      return `the listener is at its --max-connections limit; try again later (max_connections)`;
    case 'rejected':
      return `the listener refused the request for ${target}${detail ? `: ${detail}` : ''}`;
    case 'relay_failed':
      return `no tunnel to ${target}${detail ? `: ${detail}` : ''}`;
  }
}

/** The `end` of a sender's connection whose tunnel could not be opened. */
export function connectionEndOf(failure: TunnelFailure): ConnectionEnd {
  switch (failure) {
    case 'relay_failed':
      return 'relay-unavailable';
    case 'not_allowed':
      return 'not-allowed';
    case CAPACITY_CODE:
      return 'at-capacity';
    case 'rejected':
      return 'refused';
    default:
      return 'target-unreachable';
  }
}
