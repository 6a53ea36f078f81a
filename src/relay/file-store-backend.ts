import { closeSync, constants, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { normalizeRuleSet } from './ip-rules.js';
import type { NamespaceDocument } from './namespace-model.js';
import { StoreError, type StoreBackend } from './namespace-store.js';

const FILE_NAME = 'namespace.json';
const LOCK_NAME = 'server.lock';
const TEMP_SUFFIX = '.tmp';

export class DataDirectoryError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DataDirectoryError';
  }
}

/**
 * Keeps the namespace document as one JSON file, replaced atomically (temp file, fsync, rename,
 * fsync of the directory) with 0600 permissions, so a change is either fully on disk or not at all.
 * A lock file stops two servers from sharing one directory.
 */
export class FileStoreBackend implements StoreBackend {
  private readonly file: string;
  private readonly lockFile: string;
  private locked = false;

  constructor(
    private readonly dir: string,
    /** false: another lock covers the directory (a hosted namespace's, inside the relay's locked data directory). */
    private readonly ownLock = true,
  ) {
    this.file = join(dir, FILE_NAME);
    this.lockFile = join(dir, LOCK_NAME);
  }

  /** Creates the directory (0700), takes the lock (once; a second call keeps the lock it has) and removes temp files a killed server left behind. */
  lock(): void {
    if (this.locked) return;
    this.takeLock();
    this.removeStaleTempFiles();
  }

  private takeLock(): void {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const fd = openSync(this.lockFile, constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY, 0o600);
        writeSync(fd, String(process.pid));
        closeSync(fd);
        this.locked = true;
        return;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw new DataDirectoryError(`cannot use data directory ${this.dir}: ${(err as Error).message}`);
        const owner = readLockOwner(this.lockFile);
        if (owner !== undefined && owner !== process.pid && isAlive(owner)) {
          throw new DataDirectoryError(`another hybridge server (pid ${owner}) is using the data directory ${this.dir}; stop it or pick another --data directory`);
        }
        // A stale lock (its server died, or the lock was half-written); it may already be gone.
        removeIfPresent(this.lockFile);
      }
    }
    throw new DataDirectoryError(`cannot lock the data directory ${this.dir}`);
  }

  /**
   * A server killed between writing a temp file and renaming it (kill -9, power loss) leaves a
   * complete copy of the document, with every key it held (revoked ones too), under a name
   * nothing reads. With the lock held no other server writes here, so every such file is stale.
   */
  private removeStaleTempFiles(): void {
    for (const name of readdirSync(this.dir)) {
      if (name.startsWith(`${FILE_NAME}.`) && name.endsWith(TEMP_SUFFIX)) removeIfPresent(join(this.dir, name));
    }
  }

  async open(): Promise<void> {
    if (this.ownLock) this.lock();
  }

  async load(): Promise<NamespaceDocument | undefined> {
    let text: string;
    try {
      text = readFileSync(this.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new DataDirectoryError(`cannot read ${this.file}: ${(err as Error).message}`);
    }
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch {
      throw new DataDirectoryError(`${this.file} is not valid JSON; restore it from a backup or move it away to start a new namespace`);
    }
    if (!isNamespaceDocument(doc)) throw new DataDirectoryError(`${this.file} is not a hybridge namespace document`);
    if (doc.networkRuleSet !== undefined) {
      try {
        normalizeRuleSet(doc.networkRuleSet);
      } catch (err) {
        throw new DataDirectoryError(`${this.file}: networkRuleSet is not valid (${(err as Error).message}); fix or remove it`);
      }
    }
    return doc;
  }

  async update(change: (doc: NamespaceDocument | undefined) => NamespaceDocument): Promise<NamespaceDocument> {
    const next = change(await this.load());
    this.write(next);
    return next;
  }

  async close(): Promise<void> {
    if (!this.locked) return;
    this.locked = false;
    try {
      unlinkSync(this.lockFile);
    } catch {
      // Already gone; nothing to release.
    }
  }

  private write(doc: NamespaceDocument): void {
    // A hosted namespace's directory is made by its catalog; gone means deleted, and a store that
    // still holds a copy must not bring it back.
    if (this.ownLock) mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const temp = `${this.file}.${process.pid}.${randomBytes(4).toString('hex')}${TEMP_SUFFIX}`;
    let fd: number;
    try {
      fd = openSync(temp, constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY, 0o600);
    } catch (err) {
      if (!this.ownLock && (err as NodeJS.ErrnoException).code === 'ENOENT') throw new StoreError(`the namespace in ${this.dir} was deleted`, 404);
      throw err;
    }
    try {
      try {
        // writeFileSync on a descriptor loops until every byte is written; writeSync may stop short.
        writeFileSync(fd, JSON.stringify(doc, null, 2) + '\n');
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      renameSync(temp, this.file);
    } catch (err) {
      // A full disk or a failed rename must not leave a temp file (with every key) behind.
      try {
        removeIfPresent(temp);
      } catch {
        // Reported with the write's own error below; the next start removes it.
      }
      throw new DataDirectoryError(`cannot write ${this.file}: ${(err as Error).message}`);
    }
    const dirFd = openSync(this.dir, constants.O_RDONLY);
    try {
      fsyncSync(dirFd);
    } finally {
      closeSync(dirFd);
    }
  }
}

function readLockOwner(lockFile: string): number | undefined {
  let text: string;
  try {
    text = readFileSync(lockFile, 'utf8');
  } catch {
    return undefined;
  }
  const pid = Number(text.trim());
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

function removeIfPresent(file: string): void {
  try {
    unlinkSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function isNamespaceDocument(value: unknown): value is NamespaceDocument {
  if (typeof value !== 'object' || value === null) return false;
  const doc = value as Partial<NamespaceDocument>;
  return doc.formatVersion === 1 && Array.isArray(doc.authorizationRules) && Array.isArray(doc.hybridConnections);
}
