import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { FileStoreBackend } from '../file-store-backend.js';
import type { NamespaceDocument } from '../namespace-model.js';
import { CatalogFullError, type NamespaceCatalog } from './namespace-catalog.js';
import { namespaceNameProblem } from './namespace-name.js';

const DOCUMENT = 'namespace.json';

/**
 * Hosted namespaces in the data directory: `{data}/namespaces/{name}/namespace.json`, each written
 * as the default namespace's is (atomic replace, 0600). The relay's lock on the data directory
 * covers them. The default namespace's `{data}/namespace.json` is not touched.
 */
export class FileNamespaceCatalog implements NamespaceCatalog {
  private readonly root: string;

  constructor(dataDir: string) {
    this.root = join(dataDir, 'namespaces');
  }

  async list(): Promise<string[]> {
    if (!existsSync(this.root)) return [];
    return readdirSync(this.root, { withFileTypes: true })
      .filter((e) => e.isDirectory() && namespaceNameProblem(e.name) === undefined && existsSync(join(this.root, e.name, DOCUMENT)))
      .map((e) => e.name);
  }

  async create(name: string, doc: NamespaceDocument, max: number): Promise<boolean> {
    // Directories only: a half-created one (no document yet) counts too, which errs on the safe side.
    if (existsSync(this.root) && readdirSync(this.root).length >= max) throw new CatalogFullError(max);
    mkdirSync(this.root, { recursive: true, mode: 0o700 });
    const dir = join(this.root, name);
    try {
      mkdirSync(dir, { mode: 0o700 });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
        // A directory without a document is what a crash between these two steps leaves: take it over.
        if (existsSync(join(dir, DOCUMENT))) return false;
      } else throw err;
    }
    await this.backendFor(name).update(() => doc);
    return true;
  }

  async remove(name: string): Promise<boolean> {
    const dir = join(this.root, name);
    if (!existsSync(join(dir, DOCUMENT))) return false;
    rmSync(dir, { recursive: true, force: true });
    return true;
  }

  backendFor(name: string): FileStoreBackend {
    return new FileStoreBackend(join(this.root, name), false);
  }
}
