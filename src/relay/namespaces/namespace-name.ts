/**
 * Names of the namespaces one relay hosts. The namespace a relay always has, the one every
 * single-namespace set-up uses, is the default namespace: its name is '' and its hybrid
 * connections keep their plain names everywhere (directory keys, Redis keys, log lines).
 */
export const DEFAULT_NAMESPACE = '';

/** Azure's rule for namespace names: 6 to 50 letters, digits and hyphens, starting with a letter, not ending with a hyphen. */
const NAMESPACE_NAME = /^[A-Za-z][A-Za-z0-9-]{4,48}[A-Za-z0-9]$/;

/** Why `name` cannot be a namespace's name, or undefined when it can. */
export function namespaceNameProblem(name: string): string | undefined {
  if (NAMESPACE_NAME.test(name)) return undefined;
  const shown = JSON.stringify(name.slice(0, 60));
  return `${shown} is not a valid namespace name: 6 to 50 letters, digits and hyphens, starting with a letter and not ending with a hyphen`;
}

/**
 * The key a hybrid connection has in structures every namespace shares (the listener registry,
 * the cluster's listener hashes). ':' cannot appear in a hybrid connection's name, so a hosted
 * namespace's key never equals one of the default namespace's names.
 */
export function directoryKey(namespace: string, entity: string): string {
  return namespace === DEFAULT_NAMESPACE ? entity : `${namespace}:${entity}`;
}
