import type { NamespaceDocument } from '../namespace-model.js';
import type { StoreBackend } from '../namespace-store.js';

/**
 * Where a relay keeps the list of its hosted namespaces and each one's document: directories under
 * the data directory (file-catalog.ts), or Redis keys that every cluster node shares
 * (cluster/redis-namespace-catalog.ts). The default namespace is not in it: it is where it always was.
 */
export interface NamespaceCatalog {
  /** The hosted namespaces' names. */
  list(): Promise<string[]>;
  /** Stores a new namespace; false when one of that name exists. `max` caps how many there may be (CatalogFullError above it). */
  create(name: string, doc: NamespaceDocument, max: number): Promise<boolean>;
  /** Removes a namespace and all its data; false when there was none. */
  remove(name: string): Promise<boolean>;
  /** Where the namespace's document lives, for its NamespaceStore. */
  backendFor(name: string): StoreBackend;
  /**
   * When the catalog itself was lost (a cluster's Redis restarted without persistence), writes back
   * the names of the namespaces this node hosts and says true; false when nothing was lost. Cluster only.
   */
  recover?(hosted: string[]): Promise<boolean>;
  /** Calls back when another process created or deleted a namespace (cluster only). */
  watch?(onChange: () => void): Promise<void>;
  close?(): Promise<void>;
}

export class CatalogFullError extends Error {
  constructor(readonly max: number) {
    super(`QuotaExceeded: this relay already hosts its maximum of ${max} namespaces (--max-namespaces)`);
    this.name = 'CatalogFullError';
  }
}
