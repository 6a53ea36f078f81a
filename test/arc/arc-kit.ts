/**
 * What the Arc tests stand on. Azure Resource Manager and the Azure CLI cannot run here, so both are
 * stood in for, and only they:
 *
 * - an HTTPS stand-in for ARM's Microsoft.HybridConnectivity endpoints API (listCredentials, the
 *   endpoint and service-configuration PUTs, and ARM's error answers), whose credentials point at a
 *   real hybridge relay started by the test, where a real `relay-listener --arc-compatible` plays
 *   the Arc agent;
 * - a fake `az` on PATH, which DefaultAzureCredential's AzureCliCredential runs
 *   (AZURE_TOKEN_CREDENTIALS=AzureCliCredential) for the ARM token: it counts its calls, records the
 *   resource asked for, and never touches the network.
 */
import { once } from 'node:events';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { generateSelfSignedCertificate } from '../../src/relay/self-signed.js';
import type { TestRelay } from '../helpers/relay.js';

export const ARM_TOKEN = 'arm-token-from-the-fake-az-cli';
export const SERVICE_CONFIGURATION_TOKEN = 'stand-in-service-configuration-token';
export const SUBSCRIPTION = '0b1f6471-1bf0-4dda-aec3-111122223333';

export interface StandInMachine {
  /** The hybrid connection its agent (a relay-listener) listens on. */
  hyco: string;
  /** The `default` HybridConnectivity endpoint exists. */
  endpoint: boolean;
  /** Service configurations: service name → port. */
  services: Map<string, number>;
  /** Every request about this machine gets this error answer. */
  fault?: { status: number; code: string; message: string };
}

export interface RecordedRequest {
  method: string;
  /** The resource path below the machine id (`/providers/...`), or the whole path for unknown machines. */
  path: string;
  query: URLSearchParams;
  body: unknown;
  machine: string | undefined;
}

export interface ArmStandIn {
  /** https://127.0.0.1:PORT */
  url: string;
  /** PEM of its self-signed certificate. */
  ca: string;
  requests: RecordedRequest[];
  /** Adds a machine and returns its resource id. */
  addMachine(name: string, machine: Partial<StandInMachine> & { hyco: string }): string;
  close(): Promise<void>;
}

export function machineId(name: string): string {
  return `/subscriptions/${SUBSCRIPTION}/resourceGroups/arc-rg/providers/Microsoft.HybridCompute/machines/${name}`;
}

const ENDPOINT_PATH = '/providers/Microsoft.HybridConnectivity/endpoints/default';

export async function startArmStandIn(relay: TestRelay): Promise<ArmStandIn> {
  const cert = generateSelfSignedCertificate(['127.0.0.1', 'localhost'], 'ARM stand-in');
  const machines = new Map<string, StandInMachine>();
  const requests: RecordedRequest[] = [];
  const server: Server = createServer({ cert: cert.cert, key: cert.key }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'https://stand-in');
      const reply = (status: number, body: unknown) => {
        res.writeHead(status, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify(body));
      };
      const error = (status: number, code: string, message: string) => reply(status, { error: { code, message } });
      let body: unknown;
      try {
        body = chunks.length ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : undefined;
      } catch {
        return error(400, 'InvalidRequestContent', 'the body is not JSON');
      }
      const id = [...machines.keys()].find((m) => url.pathname.toLowerCase().startsWith(m.toLowerCase() + '/'));
      const path = id ? url.pathname.slice(id.length) : url.pathname;
      requests.push({ method: req.method ?? '', path, query: url.searchParams, body, machine: id?.split('/').pop() });
      if (req.headers.authorization !== `Bearer ${ARM_TOKEN}`) return error(401, 'InvalidAuthenticationToken', 'The access token is invalid.');
      if (url.searchParams.get('api-version') !== '2023-03-15') return error(400, 'InvalidApiVersionParameter', `api-version ${url.searchParams.get('api-version')} is not supported`);
      const machine = id ? machines.get(id) : undefined;
      if (!machine) {
        return req.method === 'PUT'
          ? error(404, 'ParentResourceNotFound', `Can not perform requested operation on nested resource. Parent resource '${url.pathname.split('/providers/')[1]}' not found.`)
          : error(404, 'ResourceNotFound', 'The Resource was not found.');
      }
      if (machine.fault) return error(machine.fault.status, machine.fault.code, machine.fault.message);
      const properties = (body as { properties?: Record<string, unknown> } | undefined)?.properties;
      if (req.method === 'POST' && path === `${ENDPOINT_PATH}/listCredentials`) {
        if (url.searchParams.get('expiresin') !== '10800') return error(400, 'InvalidParameter', 'expiresin must be 10800 here');
        if (!machine.endpoint) return error(404, 'ResourceNotFound', "The endpoint 'default' was not found.");
        const service = (body as { serviceName?: string } | undefined)?.serviceName ?? '';
        if (!machine.services.has(service)) return error(412, 'PreconditionFailed', `No service configuration for ${service}.`);
        return reply(200, {
          relay: {
            namespaceName: '127.0.0',
            // {namespaceName}.{namespaceNameSuffix} is the relay's host: here 127.0.0.1:PORT.
            namespaceNameSuffix: `1:${relay.port}`,
            hybridConnectionName: machine.hyco,
            accessKey: relay.token(machine.hyco),
            expiresOn: Math.floor(Date.now() / 1000) + 10800,
            serviceConfigurationToken: SERVICE_CONFIGURATION_TOKEN,
          },
        });
      }
      if (req.method === 'PUT' && path === ENDPOINT_PATH) {
        if (properties?.type !== 'default') return error(400, 'InvalidRequestContent', 'properties.type must be default');
        machine.endpoint = true;
        return reply(200, { name: 'default', properties: { type: 'default', provisioningState: 'Succeeded' } });
      }
      const serviceConfig = /^\/providers\/Microsoft\.HybridConnectivity\/endpoints\/default\/serviceConfigurations\/([A-Za-z]+)$/.exec(path);
      if (req.method === 'PUT' && serviceConfig) {
        if (!machine.endpoint) return error(404, 'ParentResourceNotFound', "Parent resource 'default' not found.");
        if (properties?.serviceName !== serviceConfig[1] || typeof properties?.port !== 'number') return error(400, 'InvalidRequestContent', 'serviceName and port are required');
        machine.services.set(serviceConfig[1]!, properties.port);
        return reply(200, { name: serviceConfig[1], properties: { ...properties, provisioningState: 'Succeeded' } });
      }
      return error(404, 'NotFound', `no route ${req.method} ${path}`);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `https://127.0.0.1:${(server.address() as AddressInfo).port}`,
    ca: cert.cert,
    requests,
    addMachine: (name, machine) => {
      const id = machineId(name);
      machines.set(id, { endpoint: true, services: new Map([['SSH', 22]]), ...machine });
      return id;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export interface FakeAzureCli {
  /** Environment for a hybridge process (or for ssh, which hands it to the ProxyCommand). */
  env: Record<string, string>;
  /** The argument lines of every `az` call so far. */
  calls(): string[];
}

/** An `az` on PATH answering `az account get-access-token` with ARM_TOKEN, valid for an hour. */
export function fakeAzureCli(dir: string): FakeAzureCli {
  const log = join(dir, 'az-calls.log');
  const script = [
    '#!/bin/sh',
    `echo "$*" >> '${log}'`,
    'now=$(date +%s)',
    `printf '{"accessToken":"%s","expiresOn":"2099-01-01 00:00:00.000000","expires_on":%s,"tokenType":"Bearer"}\\n' '${ARM_TOKEN}' "$((now + 3600))"`,
  ].join('\n');
  writeFileSync(join(dir, 'az'), `${script}\n`);
  chmodSync(join(dir, 'az'), 0o755);
  return {
    env: { PATH: `${dir}:${process.env.PATH ?? '/usr/bin:/bin'}`, AZURE_TOKEN_CREDENTIALS: 'AzureCliCredential' },
    calls: () => (existsSync(log) ? readFileSync(log, 'utf8').split('\n').filter(Boolean) : []),
  };
}

/** The inherited environment without Azure, aztunnel or hybridge settings, plus `extra`. */
export function arcEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^(AZTUNNEL_|HYBRIDGE_|AZURE_|NODE_EXTRA_CA_CERTS)/.test(k)) env[k] = v;
  for (const [k, v] of Object.entries(extra)) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  return env;
}
