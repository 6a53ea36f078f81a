import type { Command } from 'commander';
import type { ProxyPolicy } from '../proxy/proxy-policy.js';
import type { Logger } from '../util/logger.js';
import { proxySettingFrom } from './proxy-options.js';

/** `--outbound-proxy URL` (a string), `--no-outbound-proxy` (false), or neither (the environment). */
export interface OutboundProxyFlags {
  outboundProxy?: string | false;
}

/** The proxy the relay itself goes out through: identity providers' signing keys and webhooks. */
export function addOutboundProxyOptions(command: Command): Command {
  return command
    .option(
      '--outbound-proxy <url>',
      'fetch JWT signing keys and deliver webhooks through this proxy: http://[user:password@]host:port or socks5://..., or "none" ' +
        '[default: env HTTPS_PROXY / HTTP_PROXY / ALL_PROXY; NO_PROXY and loopback go direct]',
    )
    .option('--no-outbound-proxy', 'reach identity providers and webhooks directly, whatever the proxy variables say');
}

/** The policy, checked now (one line, exit 2), and one log line when it is a proxy. */
export function outboundProxyFrom(flags: OutboundProxyFlags, log: Logger): ProxyPolicy {
  const policy = proxySettingFrom(flags.outboundProxy, '--outbound-proxy', (line) => log.warn(line));
  if (policy.describe() !== 'none') log.info({ proxy: policy.describe() }, 'key-set fetches and webhooks go through a proxy');
  return policy;
}
