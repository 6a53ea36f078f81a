import { outboundRequest } from '../../proxy/outbound-request.js';
import type { ProxyPolicy } from '../../proxy/proxy-policy.js';

/** An HTTP(S) GET of a small JSON document through `policy`, bounded in time and size; the text or an Error with a one-line reason. */
export async function fetchBoundedText(url: string, maxBytes: number, timeoutMs: number, policy: ProxyPolicy): Promise<string> {
  const answer = await outboundRequest(url, { headers: { accept: 'application/json' }, timeoutMs, maxBytes, policy, maxRedirects: 5 });
  if (answer.status < 200 || answer.status >= 300) throw new Error(`HTTP ${answer.status}`);
  return answer.text;
}
