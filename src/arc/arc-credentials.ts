/**
 * Relay credentials for an Arc-enabled machine (reference aztunnel-and-peers.md §1.8): ARM's
 * HybridConnectivity `listCredentials` on the machine's `default` endpoint. When the endpoint is
 * missing (404) it is created with the service configuration; when only the service configuration
 * is missing (412) that is created. Those PUTs run only then: on an endpoint that exists they can
 * disrupt the Arc agent's listener.
 */
import { isSafeHeaderValue } from '../protocol/http-headers.js';
import { isValidEntityPath, parseRelayEndpoint, type RelayEndpoint } from '../protocol/relay-endpoint.js';
import { sleep } from '../util/sleep.js';
import { ArmError, type ArmClient } from './arm-client.js';
import { ArcSetupError, describeArmFailure, type ArmStep } from './arm-failures.js';
import type { ArcResourceId } from './resource-id.js';

export const HYBRID_CONNECTIVITY_API_VERSION = '2023-03-15';
/** The longest validity listCredentials grants (3 h). */
export const CREDENTIALS_EXPIRES_IN_SECONDS = 10800;

export const ARC_SERVICES = ['SSH', 'WAC'] as const;
export type ArcService = (typeof ARC_SERVICES)[number];

export interface ArcRelayCredentials {
  /** wss://{namespaceName}.{namespaceNameSuffix} */
  endpoint: RelayEndpoint;
  hybridConnectionName: string;
  /** A SAS token for the ServiceBusAuthorization header. Secret. */
  accessKey: string;
  /** Goes in the Service-Configuration-Token header. Secret. */
  serviceConfigurationToken: string | undefined;
  /** Unix ms, when ARM says. */
  expiresAt: number | undefined;
}

export interface FetchedCredentials {
  credentials: ArcRelayCredentials;
  /** The endpoint or service configuration was just created: the agent needs time to register. */
  created: boolean;
}

export interface ArcTarget {
  machine: ArcResourceId;
  service: ArcService;
  /** The port the Arc agent connects to on the machine. */
  port: number;
}

const RELISTS_AFTER_CREATE_DELAYS_MS = [1000, 2000, 4000, 5000];

export class ArcCredentialSource {
  constructor(
    private readonly arm: ArmClient,
    private readonly target: ArcTarget,
  ) {}

  /** Fresh credentials; creates what is missing. Throws ArcSetupError with one line. */
  async fetch(deadline: number, progress: (line: string) => void, signal?: AbortSignal): Promise<FetchedCredentials> {
    const { machine, service, port } = this.target;
    try {
      return { credentials: await this.list(deadline, signal), created: false };
    } catch (err) {
      if (!(err instanceof ArmError) || (err.status !== 404 && err.status !== 412) || err.code.toLowerCase() === 'parentresourcenotfound') {
        throw describeArmFailure(err, 'list-credentials', machine);
      }
      const createEndpoint = err.status === 404;
      if (createEndpoint) await this.put('create-endpoint', this.endpointPath, { properties: { type: 'default' } }, deadline, signal);
      await this.put('create-service-configuration', `${this.endpointPath}/serviceConfigurations/${service}`, { properties: { serviceName: service, port } }, deadline, signal);
      const created = createEndpoint ? `the connectivity endpoint of ${machine.name} and its ${service} service configuration` : `the ${service} service configuration of ${machine.name}`;
      progress(`created ${created} for port ${port} (a one-time step)`);
    }
    return { credentials: await this.listAfterCreate(deadline, signal), created: true };
  }

  private get endpointPath(): string {
    return `${this.target.machine.id}/providers/Microsoft.HybridConnectivity/endpoints/default`;
  }

  private async list(deadline: number, signal: AbortSignal | undefined): Promise<ArcRelayCredentials> {
    const answer = await this.arm.send({
      method: 'POST',
      path: `${this.endpointPath}/listCredentials`,
      query: { expiresin: String(CREDENTIALS_EXPIRES_IN_SECONDS), 'api-version': HYBRID_CONNECTIVITY_API_VERSION },
      body: { serviceName: this.target.service },
      deadline,
      signal,
    });
    return parseCredentials(answer);
  }

  /** Right after the PUTs the resource provider may still answer 404/412 for a moment. */
  private async listAfterCreate(deadline: number, signal: AbortSignal | undefined): Promise<ArcRelayCredentials> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.list(deadline, signal);
      } catch (err) {
        const wait = RELISTS_AFTER_CREATE_DELAYS_MS[Math.min(attempt, RELISTS_AFTER_CREATE_DELAYS_MS.length - 1)]!;
        const settling = err instanceof ArmError && (err.status === 404 || err.status === 412);
        if (!settling || signal?.aborted || Date.now() + wait >= deadline) throw describeArmFailure(err, 'list-credentials', this.target.machine);
        await sleep(wait, signal);
      }
    }
  }

  private async put(step: ArmStep, path: string, body: unknown, deadline: number, signal: AbortSignal | undefined): Promise<void> {
    try {
      await this.arm.send({ method: 'PUT', path, query: { 'api-version': HYBRID_CONNECTIVITY_API_VERSION }, body, deadline, signal });
    } catch (err) {
      throw describeArmFailure(err, step, this.target.machine);
    }
  }
}

/** The `relay` object of a listCredentials answer, checked field by field. */
export function parseCredentials(answer: unknown): ArcRelayCredentials {
  const relay = (answer as { relay?: Record<string, unknown> } | undefined)?.relay;
  const unusable = (why: string): never => {
    throw new ArcSetupError(`ARM's listCredentials answer is not usable: ${why}`);
  };
  if (!relay || typeof relay !== 'object') return unusable('it has no "relay" object');
  const text = (field: string, required: boolean): string | undefined => {
    const value = relay[field];
    if (value === undefined || value === null || value === '') return required ? unusable(`relay.${field} is missing`) : undefined;
    if (typeof value !== 'string') return unusable(`relay.${field} is not a string`);
    if (!isSafeHeaderValue(value) || value.length > 16_384) return unusable(`relay.${field} is malformed`);
    return value;
  };
  const namespaceName = text('namespaceName', true)!;
  const suffix = text('namespaceNameSuffix', true)!;
  const hybridConnectionName = text('hybridConnectionName', true)!;
  const accessKey = text('accessKey', true)!;
  const serviceConfigurationToken = text('serviceConfigurationToken', false);
  let endpoint: RelayEndpoint;
  try {
    endpoint = parseRelayEndpoint(`wss://${namespaceName}.${suffix.replace(/^\./, '')}`);
  } catch {
    return unusable(`"${namespaceName}.${suffix}" is not a relay host name`);
  }
  if (!isValidEntityPath(hybridConnectionName)) unusable(`"${hybridConnectionName}" is not a hybrid connection name`);
  const expiresOn = relay.expiresOn;
  const expiresAt = typeof expiresOn === 'number' && Number.isFinite(expiresOn) ? expiresOn * 1000 : undefined;
  return { endpoint, hybridConnectionName, accessKey, serviceConfigurationToken, expiresAt };
}
