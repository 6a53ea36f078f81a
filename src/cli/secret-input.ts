import { readFileSync } from 'node:fs';
import { fail } from './errors.js';

/**
 * Where a secret (a key, a signature, a connection string) may come from, most specific first: its
 * flag, a file named by a second flag, or an environment variable. Values on a command line are
 * visible to every local user in `ps`; files and variables are not.
 */
export interface SecretSource {
  /** The flag's value and its name for messages, e.g. `-k`. */
  flag?: { value: string | undefined; name: string };
  /** The file flag's value (a path) and its name, e.g. `--shared-access-key-file`. */
  file?: { path: string | undefined; name: string };
  /** The variable's name; its value is read from `env`. */
  variable?: string;
}

export interface SecretValue {
  value: string;
  /** Where it came from, for messages: `-k`, `--shared-access-key-file /etc/x`, `$HYBRIDGE_...`. */
  where: string;
}

/** Shown in --help next to flags that take a secret. */
export const VISIBLE_IN_PS = 'visible to other local users in `ps`';

/**
 * The secret from the first source that has one. A flag and its file flag together are a mistake
 * (which one was meant?) and end in a one-line error; so does a file that cannot be read or is empty.
 * A file's content is used up to its first line break, so `echo KEY > file` works.
 */
export function readSecret(source: SecretSource, env: NodeJS.ProcessEnv = process.env): SecretValue | undefined {
  const flag = source.flag?.value;
  const path = source.file?.path;
  if (flag !== undefined && path !== undefined) fail(`give either ${source.flag!.name} or ${source.file!.name}, not both`);
  if (flag !== undefined) return { value: flag, where: source.flag!.name };
  if (path !== undefined) return { value: readSecretFile(path, source.file!.name), where: `${source.file!.name} ${path}` };
  const fromEnv = source.variable ? env[source.variable] : undefined;
  if (fromEnv !== undefined && fromEnv.trim() !== '') return { value: fromEnv.trim(), where: `$${source.variable}` };
  return undefined;
}

export function readSecretFile(path: string, flagName: string): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    fail(`${flagName}: cannot read ${path} (${fileErrorReason(err)})`);
  }
  const value = text.split(/\r?\n/, 1)[0]!.trim();
  if (!value) fail(`${flagName}: ${path} is empty`);
  return value;
}

/** Why a file could not be read, in words: "no such file", "permission denied", ... */
export function fileErrorReason(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return 'no such file';
  if (code === 'EACCES') return 'permission denied';
  if (code === 'EISDIR') return 'it is a directory';
  return code ?? (err as Error).message;
}
