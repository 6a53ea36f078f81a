/**
 * Microsoft Entra ID sign-in through hybridge's proxy settings. @azure/identity's pipeline has a
 * proxy policy of its own (HTTP proxies from HTTPS_PROXY/HTTP_PROXY only, its own NO_PROXY rules),
 * but it steps aside for a request that already has an agent; this pipeline policy gives every
 * request one of ours, so sign-in follows --proxy, SOCKS5 and NO_PROXY exactly as the relay
 * connections do. (AzureCliCredential runs `az`, which reads the proxy variables itself.)
 */
import type http from 'node:http';
import type { ProxyPolicy } from './proxy-policy.js';
import { proxyAgent } from './proxy-agent.js';

interface PipelineRequestLike {
  url: string;
  agent?: unknown;
}

/** The shape of @azure/core-rest-pipeline's PipelinePolicy, without depending on that package. */
interface PipelinePolicyLike {
  name: string;
  sendRequest<Q extends PipelineRequestLike, R>(request: Q, next: (request: Q) => Promise<R>): Promise<R>;
}

const agents = new WeakMap<ProxyPolicy, { http: http.Agent; https: http.Agent }>();

/** Client options for an @azure/identity credential (e.g. DefaultAzureCredential) whose requests follow `policy`. */
export function identityProxyOptions(policy: ProxyPolicy): { additionalPolicies: { policy: PipelinePolicyLike; position: 'perRetry' }[] } {
  let pair = agents.get(policy);
  if (!pair) {
    pair = { http: proxyAgent(policy, false, { keepAlive: true }), https: proxyAgent(policy, true, { keepAlive: true }) };
    agents.set(policy, pair);
  }
  const chosen = pair;
  const proxyPolicy: PipelinePolicyLike = {
    name: 'hybridgeProxyPolicy',
    sendRequest: (request, next) => {
      request.agent = request.url.startsWith('https:') ? chosen.https : chosen.http;
      return next(request);
    },
  };
  // perRetry runs after the pipeline's own proxy policy, so ours is the agent that is used.
  return { additionalPolicies: [{ policy: proxyPolicy, position: 'perRetry' }] };
}
