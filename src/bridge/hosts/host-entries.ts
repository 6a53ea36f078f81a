/**
 * azbridge's `addhost {ip} {name}` / `removehost {name}` as checked operations on a hosts file:
 * names and addresses are validated, a name is never mapped twice, non-loopback addresses need to
 * be asked for, and only lines hybridge wrote are ever removed.
 */
import { isIP } from 'node:net';
import { isDnsName } from '../config/addresses.js';
import type { EntryOwner, HostsEntry } from './hosts-file.js';
import { editHostsFile, HostsError, isRunning, readHostsFile } from './hosts-store.js';

export function checkHostName(name: string): string {
  if (!isDnsName(name) || isIP(name) !== 0) throw new HostsError(`"${name}" is not a valid host name (letters, digits, '-', '_' and '.'-separated labels)`, 'usage');
  if (name.toLowerCase().replace(/\.$/, '') === 'localhost') throw new HostsError('"localhost" is the system\'s own name; map another name', 'usage');
  return name;
}

export function isLoopbackAddress(address: string): boolean {
  return address === '::1' || (isIP(address) === 4 && address.startsWith('127.'));
}

/** An IP literal a name may point to: loopback, or any unicast address when `allowNonLoopback`. */
export function checkHostAddress(address: string, allowNonLoopback: boolean): string {
  const family = isIP(address);
  if (family === 0) throw new HostsError(`"${address}" is not an IP address`, 'usage');
  if (address === '0.0.0.0' || address === '::') throw new HostsError(`${address} is the unspecified address; give a loopback address such as 127.1.2.3`, 'usage');
  if (!isLoopbackAddress(address) && !allowNonLoopback) {
    throw new HostsError(`${address} is not a loopback address (127.x.y.z or ::1); pass --allow-non-loopback to map a name to it`, 'usage');
  }
  return address;
}

export interface AddOptions {
  allowNonLoopback?: boolean;
  /** Replace hybridge's own entry for the name (never someone else's). */
  replace?: boolean;
}

/** Adds `address name # hybridge`; true when added, false when that exact entry was already there. */
export function addHostEntry(path: string, addressText: string, nameText: string, options: AddOptions = {}): boolean {
  const address = checkHostAddress(addressText, options.allowNonLoopback === true);
  const name = checkHostName(nameText);
  return editHostsFile(path, (doc) => {
    const existing = doc.entriesFor(name);
    if (existing.length === 1 && existing[0]!.owner?.kind === 'hosts' && existing[0]!.address === address && existing[0]!.names.length === 1) return false;
    const foreign = existing.find((e) => e.owner === undefined);
    if (foreign) throw new HostsError(`${name} is already in ${path} (line ${foreign.line + 1}: ${foreign.address}), not added by hybridge; edit that line by hand`, 'failure');
    if (existing.length > 0 && !options.replace) {
      throw new HostsError(`${name} is already in ${path} as ${existing[0]!.address} (${describeOwner(existing[0]!.owner!)}); pass --replace to change it`, 'failure');
    }
    doc.removeLines(existing.map((e) => e.line));
    doc.append(address, name, { kind: 'hosts' });
    return true;
  });
}

/** Removes hybridge's entries for `name`; returns them. Entries hybridge did not write are left alone. */
export function removeHostEntries(path: string, nameText: string): HostsEntry[] {
  const name = checkHostName(nameText);
  return editHostsFile(path, (doc) => {
    const existing = doc.entriesFor(name);
    const ours = existing.filter((e) => e.owner !== undefined);
    if (ours.length === 0) {
      const foreign = existing[0];
      if (foreign) throw new HostsError(`${name} in ${path} (line ${foreign.line + 1}) was not added by hybridge; edit that line by hand`, 'failure');
      throw new HostsError(`${path} has no entry for ${name}`, 'failure');
    }
    doc.removeLines(ours.map((e) => e.line));
    return ours;
  });
}

export interface ListedEntry extends HostsEntry {
  owner: EntryOwner;
  /** For bridge entries: whether that bridge still runs (false: a leftover the next start cleans). */
  running?: boolean;
}

/** hybridge's entries in the file. */
export function listHostEntries(path: string): ListedEntry[] {
  return readHostsFile(path)
    .entries()
    .filter((e): e is ListedEntry => e.owner !== undefined)
    .map((e) => (e.owner.kind === 'bridge' ? { ...e, running: isRunning(e.owner.pid) } : e));
}

export function describeOwner(owner: EntryOwner, running?: boolean): string {
  if (owner.kind === 'hosts') return 'added by hybridge hosts add';
  return `added by hybridge bridge pid ${owner.pid}${running === undefined ? '' : running ? ', running' : ', no longer running'}`;
}
