/**
 * Reading and rewriting a hosts file safely. A change is written to a temporary file next to it
 * (same mode and owner), flushed, and renamed over it, so a reader sees the old file or the new one,
 * never half of one. Where the file cannot be replaced (a container's bind-mounted /etc/hosts
 * answers EBUSY), it is rewritten in place. Concurrent hybridge processes take turns through a lock
 * file beside it. Everything is synchronous: entries must also be removable from a process 'exit'
 * handler.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, fchmodSync, fchownSync, fstatSync, fsyncSync, openSync, readFileSync, realpathSync, renameSync, statSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { HostsDocument } from './hosts-file.js';

export const DEFAULT_HOSTS_FILE = '/etc/hosts';

/**
 * A hosts-file problem, one line: `usage` is the command line's fault (a wrong path, a malformed name
 * or address: exit code 2); `failure` is a conflict with the file or the system (a duplicate, a
 * missing permission: exit code 1).
 */
export class HostsError extends Error {
  constructor(
    message: string,
    readonly kind: 'usage' | 'failure' = 'failure',
  ) {
    super(message);
    this.name = 'HostsError';
  }
}

const LOCK_WAIT_MS = 5000;
/** An edit takes milliseconds; a lock this old was left by a process that died mid-edit. */
const STALE_LOCK_MS = 10_000;

export function readHostsFile(path: string): HostsDocument {
  return HostsDocument.parse(readText(resolve(path), path));
}

/**
 * Runs `edit` on the current contents under the lock and writes the result if it changed.
 * Returns what `edit` returns.
 */
export function editHostsFile<T>(path: string, edit: (doc: HostsDocument) => T): T {
  const real = resolve(path);
  const release = lock(real, path);
  try {
    const before = readText(real, path);
    const doc = HostsDocument.parse(before);
    const result = edit(doc);
    const after = doc.toString();
    if (after !== before) write(real, path, after);
    return result;
  } finally {
    release();
  }
}

/** The file behind a symlink (replacing the link itself would detach it). */
function resolve(path: string): string {
  try {
    const real = realpathSync(path);
    if (!statSync(real).isFile()) throw new HostsError(`${path} is not a file`, 'usage');
    return real;
  } catch (err) {
    if (err instanceof HostsError) throw err;
    throw describe(err, path, 'read');
  }
}

function readText(real: string, shown: string): string {
  try {
    return readFileSync(real, 'utf8');
  } catch (err) {
    throw describe(err, shown, 'read');
  }
}

function write(real: string, shown: string, text: string): void {
  const original = statSync(real);
  const temp = join(dirname(real), `.${basename(real)}.hybridge-${process.pid}-${randomBytes(4).toString('hex')}`);
  let fd: number | undefined;
  try {
    fd = openSync(temp, 'wx', original.mode & 0o7777);
    writeSync(fd, text);
    fchmodSync(fd, original.mode & 0o7777);
    if (fstatSync(fd).uid !== original.uid || fstatSync(fd).gid !== original.gid) fchownSync(fd, original.uid, original.gid);
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    renameSync(temp, real);
    syncDirectory(dirname(real));
  } catch (err) {
    if (fd !== undefined) closeSync(fd);
    removeQuietly(temp);
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EBUSY' || code === 'EXDEV') return writeInPlace(real, shown, text);
    throw describe(err, shown, 'change');
  }
}

/** For a file that is a mount point: no atomic replace is possible, so one write of the whole text. */
function writeInPlace(real: string, shown: string, text: string): void {
  try {
    writeFileSync(real, text);
  } catch (err) {
    throw describe(err, shown, 'change');
  }
}

function syncDirectory(dir: string): void {
  try {
    const fd = openSync(dir, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // Some file systems cannot sync a directory; the rename is done either way.
  }
}

function lock(real: string, shown: string): () => void {
  const path = `${real}.hybridge-lock`;
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    try {
      const fd = openSync(path, 'wx', 0o600);
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return () => removeQuietly(path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw describe(err, shown, 'change');
    }
    if (isStale(path)) {
      removeQuietly(path);
      continue;
    }
    if (Date.now() > deadline) throw new HostsError(`${shown} is being changed by another hybridge process (lock file ${path}); try again, or remove the lock file if no hybridge is running`);
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
  }
}

function isStale(lockPath: string): boolean {
  try {
    const age = Date.now() - statSync(lockPath).mtimeMs;
    const pid = Number(readFileSync(lockPath, 'utf8'));
    return age > STALE_LOCK_MS || (Number.isInteger(pid) && pid > 0 && !isRunning(pid));
  } catch {
    return false; // gone already, or just being written: try again
  }
}

/** Whether a process with this id exists (EPERM: it exists but belongs to someone else). */
export function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function removeQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // already gone
  }
}

function describe(err: unknown, shown: string, action: 'read' | 'change'): HostsError {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return new HostsError(`${shown} does not exist; give the hosts file with --hosts-file`, 'usage');
  if (code === 'EACCES' || code === 'EPERM') return new HostsError(`cannot ${action} ${shown}: permission denied; run as root (sudo) or give a file you may write with --hosts-file`);
  if (code === 'EROFS') return new HostsError(`cannot ${action} ${shown}: the file system is read-only`);
  if (code === 'EISDIR') return new HostsError(`${shown} is a directory, not a hosts file`, 'usage');
  return new HostsError(`cannot ${action} ${shown}: ${code ?? (err as Error).message}`);
}
