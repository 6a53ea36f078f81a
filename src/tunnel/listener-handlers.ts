/**
 * What a `relay-listener` serves, from its flags and its `--config` file: the allowlist for aztunnel
 * envelopes and the --bridge-target bindings (with their pools) for azbridge preambles. Built again
 * on SIGHUP from the file; a problem is a SettingsError with one line per problem.
 */
import { readFileSync, statSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import type { PooledHandler, ProtocolHandler } from '../forwarding/listener-end.js';
import { rejectAzbridgeConnection } from '../forwarding/peer-refusals.js';
import { SettingsError } from '../forwarding/settings-error.js';
import { MAX_CONFIG_FILE_BYTES } from '../util/config-file-limit.js';
import { silentLogger, type Logger } from '../util/logger.js';
import { Allowlist, AllowlistError } from './allowlist.js';
import type { ConnectionSlots } from './connection-slots.js';
import { createAztunnelHandler } from './serve-aztunnel.js';
import { systemLookup } from './target-access.js';

/** The reloadable settings, as flags and as `--config` file keys. */
export interface ListenerSettings {
  allow: string[];
  allowResolve: boolean;
  bridgeTargets: string[];
  balance?: string;
  healthCheck?: string;
}

/**
 * Builds the --bridge-target handler (the bridge's -R grammar and azbridge handler, which the CLI
 * passes in): undefined when there are no bridge targets; throws SettingsError naming every problem.
 */
export type BridgeTargetsBuilder = (settings: ListenerSettings, ctx: { hyco: string; connectTimeoutMs: number; log: Logger }) => PooledHandler | undefined;

export interface ListenerHandlers {
  allowlist: Allowlist;
  aztunnel: ProtocolHandler;
  /** The azbridge side: the --bridge-target handler with its pools, or the one that refuses azbridge senders. */
  azbridge: PooledHandler;
}

export interface HandlerContext {
  hyco: string;
  connectTimeoutMs: number;
  tcpKeepAliveMs: number;
  slots: ConnectionSlots;
  listenerId: string;
  log?: Logger;
  /** Serves --bridge-target ports; without it, bridge targets are a settings problem. */
  bridgeTargets?: BridgeTargetsBuilder;
}

const FILE_KEYS = new Set(['allow', 'allowResolve', 'bridgeTargets', 'balance', 'healthCheck']);

/**
 * Reads a `--config` file (YAML or JSON): `allow` and `bridgeTargets` lists (added to the flags'),
 * `allowResolve`, `balance`, `healthCheck` (the file's win over the flags').
 */
export function readListenerFile(path: string): Partial<ListenerSettings> {
  let text: string;
  try {
    if (statSync(path).size > MAX_CONFIG_FILE_BYTES) throw new SettingsError([`${path} is larger than ${MAX_CONFIG_FILE_BYTES} bytes`]);
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if (err instanceof SettingsError) throw err;
    throw new SettingsError([`--config: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`]);
  }
  let doc: unknown;
  try {
    doc = parseYaml(text) ?? {};
  } catch (err) {
    throw new SettingsError([`${path}: not valid YAML or JSON (${(err as Error).message.split('\n')[0]})`]);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new SettingsError([`${path}: must be a mapping of allow, allowResolve, bridgeTargets, balance, healthCheck`]);
  const problems: string[] = [];
  const out: Partial<ListenerSettings> = {};
  for (const [key, value] of Object.entries(doc as Record<string, unknown>)) {
    if (!FILE_KEYS.has(key)) problems.push(`${path}: unknown key "${key.slice(0, 64)}" (known: ${[...FILE_KEYS].join(', ')})`);
    else if (key === 'allow' || key === 'bridgeTargets') {
      if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) problems.push(`${path}: ${key} must be a list of strings`);
      else out[key] = value as string[];
    } else if (key === 'allowResolve') {
      if (typeof value !== 'boolean') problems.push(`${path}: allowResolve must be true or false`);
      else out.allowResolve = value;
    } else if (typeof value !== 'string') problems.push(`${path}: ${key} must be a string`);
    else out[key as 'balance' | 'healthCheck'] = value;
  }
  if (problems.length > 0) throw new SettingsError(problems);
  return out;
}

/** Flags and file together: the file's lists are added, its scalars win. */
export function mergeListenerSettings(flags: ListenerSettings, file: Partial<ListenerSettings>): ListenerSettings {
  return {
    allow: [...flags.allow, ...(file.allow ?? [])],
    allowResolve: file.allowResolve ?? flags.allowResolve,
    bridgeTargets: [...flags.bridgeTargets, ...(file.bridgeTargets ?? [])],
    balance: file.balance ?? flags.balance,
    healthCheck: file.healthCheck ?? flags.healthCheck,
  };
}

/** The handlers for `settings`; throws SettingsError naming every problem. */
export function buildListenerHandlers(settings: ListenerSettings, ctx: HandlerContext): ListenerHandlers {
  let allowlist: Allowlist;
  try {
    allowlist = Allowlist.parse(settings.allow, settings.allowResolve ? { resolveEntries: { resolve: systemLookup } } : {});
  } catch (err) {
    if (err instanceof AllowlistError) throw new SettingsError([...err.problems]);
    throw err;
  }
  const azbridge = azbridgeEnd(settings, ctx);
  const aztunnel = createAztunnelHandler({ allowlist, connectTimeoutMs: ctx.connectTimeoutMs, tcpKeepAliveMs: ctx.tcpKeepAliveMs, slots: ctx.slots, listenerId: ctx.listenerId, resolveNames: settings.allowResolve });
  return { allowlist, aztunnel, azbridge };
}

/** azbridge-style senders: served by the --bridge-target ports (ports with several targets are pools), or refused with the reason. */
function azbridgeEnd(settings: ListenerSettings, ctx: HandlerContext): PooledHandler {
  const served = ctx.bridgeTargets?.(settings, { hyco: ctx.hyco, connectTimeoutMs: ctx.connectTimeoutMs, log: ctx.log ?? silentLogger() });
  if (served) return served;
  if (settings.bridgeTargets.length > 0) throw new SettingsError(['--bridge-target: this listener end serves no azbridge ports']);
  const reason = `relay-listener on "${ctx.hyco}" serves aztunnel-style tunnels only; start it with --bridge-target to serve azbridge ports`;
  return async (stream, first, connection) => {
    connection.end({ end: 'refused', reason: 'azbridge-style sender refused: no --bridge-target configured' });
    await rejectAzbridgeConnection(stream, first, reason);
  };
}
