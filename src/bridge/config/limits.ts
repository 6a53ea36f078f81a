/**
 * How much one bridge configuration may hold. Each binding is a listener or a target with its own
 * relayed connections, so a configuration far past these numbers is a mistake (or an attack through a
 * generated file), refused with one line before the bridge builds anything.
 */

export { MAX_CONFIG_FILE_BYTES } from '../../util/config-file-limit.js';

/** Forwarder bindings (-L, -T, -R, -H, LocalForward, RemoteForward) in all layers together. */
export const MAX_FORWARD_BINDINGS = 10_000;

/** The refusal for a list or configuration with `count` bindings, or undefined when within the limit. */
export function tooManyBindings(count: number, what: string): string | undefined {
  if (count <= MAX_FORWARD_BINDINGS) return undefined;
  return `${what} has ${count} forwarder bindings; a bridge configuration holds at most ${MAX_FORWARD_BINDINGS} (run several bridges, each with a part)`;
}
