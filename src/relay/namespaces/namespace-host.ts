import type { IncomingMessage, ServerResponse } from 'node:http';
import { formatConnectionString } from '../../protocol/connection-string.js';
import type { Logger } from '../../util/logger.js';
import { emptyNamespace, ROOT_RULE_NAME, type NamespaceLimits } from '../namespace-model.js';
import type { RelayServer } from '../relay-server.js';
import { handleAdminRequest, isAdminRequest } from './admin-api.js';
import type { NamespaceCatalog } from './namespace-catalog.js';
import type { NamespaceHosting } from './namespace-hosting.js';

export interface NamespaceHostOptions {
  catalog: NamespaceCatalog;
  /** The server-level admin credential; without one the admin API answers that it is off. */
  adminKey: string | undefined;
  /** How many hosted namespaces the relay (the cluster) may hold. */
  maxNamespaces: number;
  log: Logger;
}

/** What creating a namespace gives back: its root connection string among the rest. */
export interface CreatedNamespace {
  name: string;
  createdAt: string;
  rootConnectionString: string;
}

/**
 * The relay's hosted namespaces: opened at start from the catalog, kept in step with it (a
 * namespace created or deleted on another cluster node is served or cut here too), and created and
 * deleted through the server-level admin API (admin-api.ts).
 */
export class NamespaceHost implements NamespaceHosting {
  private server: RelayServer | undefined;
  /** Catalog changes and this node's creates and deletes, one at a time. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(readonly options: NamespaceHostOptions) {}

  async open(server: RelayServer): Promise<void> {
    this.server = server;
    await this.options.catalog.watch?.(() => void this.serialized(() => this.reconcile()).catch((err: Error) => this.options.log.warn({ reason: err.message }, 'could not bring the hosted namespaces up to date; trying again at the next change')));
    await this.serialized(() => this.reconcile());
    if (this.options.adminKey === undefined && server.namespaces.size > 1) {
      this.options.log.warn('hosted namespaces are served, but the admin API is off: start the server with --admin-key-file to create or delete them');
    }
  }

  handle(req: IncomingMessage, res: ServerResponse, url: string): boolean {
    if (!this.server || !isAdminRequest(url)) return false;
    void handleAdminRequest({ host: this, server: this.server, adminKey: this.options.adminKey }, req, res, url);
    return true;
  }

  async close(): Promise<void> {
    await this.options.catalog.close?.();
  }

  /** Creates a namespace (its root rule with a new key) and serves it; undefined when the name is taken. */
  create(name: string, limits: NamespaceLimits | undefined): Promise<CreatedNamespace | undefined> {
    return this.serialized(async () => {
      const server = this.requireServer();
      const doc = emptyNamespace();
      if (limits && Object.keys(limits).length > 0) doc.limits = limits;
      if (!(await this.options.catalog.create(name, doc, this.options.maxNamespaces))) return undefined;
      const ns = server.namespaces.get(name) ?? (await server.hostNamespace(name, this.options.catalog.backendFor(name)));
      const root = ns.store.namespaceRules().find((r) => r.keyName === ROOT_RULE_NAME)!;
      this.options.log.info({ namespace: name, event: 'NamespaceCreated' }, 'namespace created');
      return { name, createdAt: doc.createdAt, rootConnectionString: formatConnectionString({ endpoint: server.endpointOf(name), sharedAccessKeyName: root.keyName, sharedAccessKey: root.primaryKey }) };
    });
  }

  /** Deletes a namespace and its data, cutting its connections on this node (other nodes hear it from the catalog); undefined when there was none. */
  delete(name: string): Promise<number | undefined> {
    return this.serialized(async () => {
      if (!(await this.options.catalog.remove(name))) return undefined;
      return this.drop(name);
    });
  }

  private async reconcile(): Promise<void> {
    const server = this.requireServer();
    await this.recoverLostCatalog(server);
    const names = new Set(await this.options.catalog.list());
    for (const name of names) {
      if (server.namespaces.has(name)) continue;
      try {
        await server.hostNamespace(name, this.options.catalog.backendFor(name));
      } catch (err) {
        // Deleted again before it could be read; the next change settles it.
        this.options.log.warn({ namespace: name, reason: (err as Error).message }, 'could not open a hosted namespace');
      }
    }
    for (const ns of [...server.namespaces.values()]) if (!ns.isDefault && !names.has(ns.name)) this.drop(ns.name);
  }

  /** An empty catalog that Redis lost is not "every namespace deleted": the ones this node serves are written back. */
  private async recoverLostCatalog(server: RelayServer): Promise<void> {
    const hosted = [...server.namespaces.values()].filter((ns) => !ns.isDefault);
    if (!this.options.catalog.recover || !(await this.options.catalog.recover(hosted.map((ns) => ns.name)))) return;
    this.options.log.warn({ namespaces: hosted.length }, 'the cluster store lost the namespace catalog (Redis restarted without its data?); this node wrote back the namespaces it serves');
    // Their documents went too; each store writes its copy back now that its name is in the catalog again.
    for (const ns of hosted) {
      await ns.store.reload().catch((err: Error) => this.options.log.warn({ namespace: ns.name, reason: err.message }, 'could not write a hosted namespace back'));
    }
  }

  private drop(name: string): number {
    const server = this.requireServer();
    const ns = server.namespaces.get(name);
    const closed = server.unhostNamespace(name, 'namespace deleted');
    void ns?.store.close().catch(() => undefined);
    if (ns) this.options.log.info({ namespace: name, closed, event: 'NamespaceDeleted' }, 'namespace deleted; its listeners and connections were closed');
    return closed;
  }

  private serialized<T>(work: () => Promise<T>): Promise<T> {
    const next = this.queue.then(work, work);
    this.queue = next.catch(() => undefined);
    return next;
  }

  private requireServer(): RelayServer {
    if (!this.server) throw new Error('the namespace host is not open');
    return this.server;
  }
}
