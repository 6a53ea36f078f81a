import type { Command } from 'commander';
import { ProxySettingsError } from '../proxy/proxy-error.js';
import { ProxyPolicy } from '../proxy/proxy-policy.js';
import { parseProxyUrl } from '../proxy/proxy-url.js';
import type { Logger } from '../util/logger.js';
import { fail } from './errors.js';

/** `--proxy URL` (a string), `--no-proxy` (false), or neither (the environment). */
export interface ProxyFlags {
  proxy?: string | false;
}

/** --proxy and --no-proxy, for every command that connects to a relay (or to ARM and Entra ID). */
export function addProxyOptions(command: Command): Command {
  return command
    .option(
      '--proxy <url>',
      'reach the relay through this proxy: http://[user:password@]host:port (HTTP CONNECT) or socks5://[user:password@]host:port, or "none" ' +
        '[default: env HTTPS_PROXY for TLS relays, HTTP_PROXY for ws://, ALL_PROXY for both; hosts in NO_PROXY go direct]',
    )
    .option('--no-proxy', 'connect directly, whatever HTTPS_PROXY, HTTP_PROXY and ALL_PROXY say (same as --proxy none)');
}

/**
 * The proxy policy from the flags and the environment, checked now: a malformed URL or NO_PROXY
 * entry is one line and exit 2 before anything connects. `warn` hears about a password on the
 * command line, which other local users can read in the process list.
 */
export function proxyFrom(flags: ProxyFlags, warn: (line: string) => void, env: NodeJS.ProcessEnv = process.env): ProxyPolicy {
  return proxySettingFrom(flags.proxy, '--proxy', warn, env);
}

/** `setting` from the flag named `flag` (a URL, false for its --no- form, or undefined for the environment), checked as proxyFrom does. */
export function proxySettingFrom(setting: string | false | undefined, flag: string, warn: (line: string) => void, env: NodeJS.ProcessEnv = process.env): ProxyPolicy {
  try {
    const policy = ProxyPolicy.from(setting, { env, source: flag });
    if (typeof setting === 'string' && setting.trim().toLowerCase() !== 'none' && parseProxyUrl(setting, flag).password) {
      warn(`${flag} holds a password, which other local users can see in the process list; prefer HTTPS_PROXY (or HTTP_PROXY, ALL_PROXY) in the environment`);
    }
    return policy;
  } catch (err) {
    if (err instanceof ProxySettingsError) fail(err.message);
    throw err;
  }
}

/** One line at start-up saying which proxy relay connections take (nothing when none). */
export function logProxyPolicy(policy: ProxyPolicy, log: Logger): void {
  if (policy !== ProxyPolicy.DIRECT) log.info({ proxy: policy.describe() }, 'relay connections go through a proxy');
}
