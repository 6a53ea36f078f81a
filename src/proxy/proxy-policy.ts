/**
 * Which proxy, if any, a connection to a relay (or to ARM, or to Microsoft Entra ID) goes through.
 *
 * A setting is one of:
 *   undefined       the environment: https_proxy / HTTPS_PROXY for TLS destinations (wss, https),
 *                   http_proxy / HTTP_PROXY for plain ones (ws, http), all_proxy / ALL_PROXY for
 *                   either when the specific one is unset; the lower-case spelling wins when both
 *                   are set, and empty values count as unset. Loopback and link-local destinations
 *                   (localhost, 127.0.0.0/8, ::1, 169.254.0.0/16 such as Azure's instance metadata
 *                   service, fe80::/10) never go to an environment proxy, which could not reach them.
 *   false, 'none'   no proxy at all, whatever the environment says.
 *   a URL           that proxy for every destination, loopback included.
 * In both proxy cases no_proxy / NO_PROXY names the destinations reached directly (see no-proxy.ts).
 */
import { BlockList, isIP } from 'node:net';
import { NoProxyList } from './no-proxy.js';
import { ProxySettingsError } from './proxy-error.js';
import { parseProxyUrl, type ProxyServer } from './proxy-url.js';

export type ProxySetting = string | false | ProxyPolicy | undefined;

export interface ProxyPolicyOptions {
  env?: NodeJS.ProcessEnv;
  /** Names an explicit URL in error messages (the flag or option it came from). */
  source?: string;
}

export class ProxyPolicy {
  static readonly DIRECT = new ProxyPolicy(undefined, undefined, NoProxyList.EMPTY, false);

  private constructor(
    private readonly plain: ProxyServer | undefined,
    private readonly secure: ProxyServer | undefined,
    private readonly noProxy: NoProxyList,
    /** Proxies taken from the environment leave loopback destinations alone. */
    private readonly fromEnvironment: boolean,
  ) {}

  /** Resolves a setting now, so a malformed URL or NO_PROXY fails before any connection (ProxySettingsError). */
  static from(setting: ProxySetting, options: ProxyPolicyOptions = {}): ProxyPolicy {
    if (setting instanceof ProxyPolicy) return setting;
    const env = options.env ?? process.env;
    if (setting === false || (typeof setting === 'string' && setting.trim().toLowerCase() === 'none')) return ProxyPolicy.DIRECT;
    if (typeof setting === 'string') {
      const server = parseProxyUrl(setting, options.source ?? 'proxy');
      return new ProxyPolicy(server, server, noProxyFrom(env), false);
    }
    if (setting !== undefined) throw new ProxySettingsError(`${options.source ?? 'proxy'}: expected a proxy URL, "none" or false`);
    const plain = environmentProxy(env, ['http_proxy', 'HTTP_PROXY', 'all_proxy', 'ALL_PROXY']);
    const secure = environmentProxy(env, ['https_proxy', 'HTTPS_PROXY', 'all_proxy', 'ALL_PROXY']);
    if (!plain && !secure) return ProxyPolicy.DIRECT;
    return new ProxyPolicy(plain, secure, noProxyFrom(env), true);
  }

  /** The proxy for a connection to `host` (name or IP literal) on `port`, or undefined to connect directly. */
  route(host: string, port: number, secure: boolean): ProxyServer | undefined {
    const server = secure ? this.secure : this.plain;
    if (!server || this.noProxy.matches(host, port)) return undefined;
    if (this.fromEnvironment && isMachineLocal(host)) return undefined;
    return server;
  }

  /** What this policy does, for a log line: proxy labels only, never credentials. */
  describe(): string {
    if (!this.plain && !this.secure) return 'none';
    const which = this.plain === this.secure ? this.plain!.label : `${this.secure?.label ?? 'none'} for TLS relays, ${this.plain?.label ?? 'none'} for plain ones`;
    const except = [this.fromEnvironment ? 'loopback' : '', this.noProxy.isEmpty ? '' : 'NO_PROXY'].filter(Boolean).join(' and ');
    return except ? `${which}, except ${except} destinations` : which;
  }
}

function environmentProxy(env: NodeJS.ProcessEnv, names: string[]): ProxyServer | undefined {
  for (const name of names) {
    const value = env[name]?.trim();
    if (value) return parseProxyUrl(value, name);
  }
  return undefined;
}

function noProxyFrom(env: NodeJS.ProcessEnv): NoProxyList {
  for (const name of ['no_proxy', 'NO_PROXY']) {
    const value = env[name]?.trim();
    if (value) return NoProxyList.parse(value, name);
  }
  return NoProxyList.EMPTY;
}

/** Loopback and link-local destinations: only this machine (or its link) can reach them. */
function isMachineLocal(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, '').replace(/\.$/, '').toLowerCase();
  if (bare === 'localhost' || bare.endsWith('.localhost')) return true;
  const family = isIP(bare);
  if (family === 0) return false;
  return MACHINE_LOCAL.check(bare, family === 6 ? 'ipv6' : 'ipv4');
}

const MACHINE_LOCAL = new BlockList();
MACHINE_LOCAL.addSubnet('127.0.0.0', 8, 'ipv4');
MACHINE_LOCAL.addSubnet('169.254.0.0', 16, 'ipv4');
MACHINE_LOCAL.addAddress('::1', 'ipv6');
MACHINE_LOCAL.addSubnet('fe80::', 10, 'ipv6');
MACHINE_LOCAL.addSubnet('::ffff:127.0.0.0', 104, 'ipv6');
