/**
 * A stand-in for Microsoft Entra ID's token endpoint (the cloud cannot run here), in the shape
 * MSAL uses for an AD FS authority (AZURE_TENANT_ID=adfs, AZURE_AUTHORITY_HOST=this), which needs
 * no instance discovery: the OpenID configuration, then a client-credentials token request,
 * answered with an unsigned JWT. It records every request, so a test sees that sign-in happened.
 */
import { once } from 'node:events';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { generateSelfSignedCertificate } from '../../src/relay/self-signed.js';

export const STAND_IN_JWT = 'eyJhbGciOiJub25lIn0.eyJhdWQiOiJodHRwczovL3JlbGF5LmF6dXJlLm5ldCJ9.';

export interface EntraStandIn {
  port: number;
  /** PEM of its certificate (for NODE_EXTRA_CA_CERTS). */
  ca: string;
  /** `METHOD path` of every request so far. */
  requests: string[];
  close(): Promise<void>;
}

export async function startEntraStandIn(names: string[]): Promise<EntraStandIn> {
  const cert = generateSelfSignedCertificate([...names, '127.0.0.1'], 'Entra ID stand-in');
  const requests: string[] = [];
  const server = createServer({ cert: cert.cert, key: cert.key }, (req, res) => {
    req.resume();
    req.on('end', () => {
      const path = (req.url ?? '/').split('?')[0]!;
      requests.push(`${req.method} ${path}`);
      const base = `https://${req.headers.host}/adfs`;
      res.setHeader('Content-Type', 'application/json');
      if (path === '/adfs/.well-known/openid-configuration') {
        res.end(JSON.stringify({ issuer: base, token_endpoint: `${base}/oauth2/token`, authorization_endpoint: `${base}/oauth2/authorize`, end_session_endpoint: `${base}/oauth2/logout`, jwks_uri: `${base}/discovery/keys` }));
      } else if (req.method === 'POST' && path === '/adfs/oauth2/token') {
        res.end(JSON.stringify({ token_type: 'Bearer', expires_in: 3600, access_token: STAND_IN_JWT }));
      } else {
        res.statusCode = 404;
        res.end('{}');
      }
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as AddressInfo).port,
    ca: cert.cert,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
