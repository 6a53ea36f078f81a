/**
 * One line per ARM failure of the Arc set-up, saying what is wrong and what fixes it. Codes are
 * ARM's (`AuthorizationFailed`, `MissingSubscriptionRegistration`, ...); the status decides when a
 * code is unknown.
 */
import { ArmError, ArmTokenError, ArmUnreachableError } from './arm-client.js';
import type { ArcResourceId } from './resource-id.js';

/** The Arc set-up failed; the message is the whole story (one line, no secrets). */
export class ArcSetupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ArcSetupError';
  }
}

export type ArmStep = 'list-credentials' | 'create-endpoint' | 'create-service-configuration';

const PROVIDER = 'Microsoft.HybridConnectivity';
const NOT_REGISTERED_CODES = new Set(['missingsubscriptionregistration', 'subscriptionnotregistered', 'resourceprovidernotregistered']);

export function describeArmFailure(err: unknown, step: ArmStep, machine: ArcResourceId): ArcSetupError {
  if (err instanceof ArcSetupError) return err;
  if (err instanceof ArmTokenError || err instanceof ArmUnreachableError) return new ArcSetupError(err.message);
  if (!(err instanceof ArmError)) return new ArcSetupError(`${stepText(step)} failed: ${(err as Error).message}`);
  const code = err.code.toLowerCase();
  const said = `(${err.status}${err.code ? ` ${err.code}` : ''})`;
  if (NOT_REGISTERED_CODES.has(code) || /not registered to use namespace/i.test(err.detail)) {
    return new ArcSetupError(`subscription ${machine.subscription} is not registered for the ${PROVIDER} resource provider ${said}; register it once: az provider register -n ${PROVIDER}`);
  }
  if (err.status === 401) {
    return new ArcSetupError(`ARM did not accept the Microsoft Entra ID token ${said}; sign in again (az login), check the tenant, and pass --cloud for a sovereign cloud`);
  }
  if (err.status === 403) {
    if (step === 'list-credentials') {
      return new ArcSetupError(
        `no permission to connect to ${machine.name} ${said}: the signed-in identity needs ${PROVIDER}/endpoints/listCredentials/action on ${machine.id} (e.g. the Virtual Machine Local User Login role)`,
      );
    }
    return new ArcSetupError(
      `no permission to set up connections to ${machine.name} ${said}: ${stepText(step)} is a one-time step that needs Owner or Contributor on ${machine.id}; ask someone who has it to connect once`,
    );
  }
  if (err.status === 404 || code === 'parentresourcenotfound') {
    return new ArcSetupError(`machine not found: ${machine.id} ${said}; check the subscription, resource group and name (az connectedmachine list)`);
  }
  return new ArcSetupError(`${stepText(step)} for ${machine.name} failed ${said}${err.detail ? `: ${err.detail}` : ''}`);
}

function stepText(step: ArmStep): string {
  switch (step) {
    case 'list-credentials':
      return 'getting the relay credentials (listCredentials)';
    case 'create-endpoint':
      return 'creating the connectivity endpoint';
    case 'create-service-configuration':
      return 'creating the service configuration';
  }
}
