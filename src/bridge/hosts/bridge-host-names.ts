/**
 * `bridge -L sql.corp.example.com:1433:db --add-hosts`: each host name a -L binding listens on gets
 * a hosts-file entry for the bridge's lifetime (README pattern: one 127.x address per remote
 * service, so clients and TLS certificates use the service's real name). The address is a free
 * 127.1.x.y, or the one pinned with `--add-hosts name=address`, or the one an entry that is already
 * there gives. The bindings then listen on that address directly; the file is not resolved again.
 *
 * Entries carry the bridge's pid: release() removes them on exit, and entries of a bridge that died
 * without cleaning up (SIGKILL, a crash) are removed by the next bridge that adds hosts, or by
 * `hybridge hosts remove`.
 */
import { isIP } from 'node:net';
import { isLocalAddress } from '../config/addresses.js';
import type { BridgeConfig, LocalBinding } from '../config/model.js';
import { checkHostAddress, checkHostName } from './host-entries.js';
import type { HostsDocument } from './hosts-file.js';
import { editHostsFile, HostsError, isRunning } from './hosts-store.js';

export interface ClaimedHostName {
  name: string;
  address: string;
  /** False when an entry that was already in the file is used (and left there on exit). */
  added: boolean;
}

export interface ClaimedHostNames {
  names: ClaimedHostName[];
  /** Stale entries of dead bridges that were removed. */
  cleaned: number;
  /** Removes the entries this bridge added (idempotent, synchronous: safe in an 'exit' handler). */
  release(): void;
}

/** `name=address[,name=address...]` pins of --add-hosts (empty text: no pins). */
export function parseHostPins(text: string): Map<string, string> {
  const pins = new Map<string, string>();
  for (const item of text.split(',').map((s) => s.trim()).filter(Boolean)) {
    const eq = item.indexOf('=');
    if (eq < 0) throw new HostsError(`--add-hosts "${item}": write name=address, e.g. sql.corp.example.com=127.1.2.3`, 'usage');
    const name = checkHostName(item.slice(0, eq).trim());
    const address = item.slice(eq + 1).trim();
    try {
      checkHostAddress(address, false);
    } catch (err) {
      throw new HostsError(`--add-hosts ${name}=${address}: ${(err as Error).message.replace(/; pass --allow-non-loopback.*$/, '')}`, 'usage');
    }
    if (pins.has(name.toLowerCase())) throw new HostsError(`--add-hosts names ${name} twice`, 'usage');
    pins.set(name.toLowerCase(), address);
  }
  return pins;
}

const FIRST_CANDIDATE = [127, 1, 0, 1];

export function claimHostNames(config: BridgeConfig, hostsFile: string, pins: Map<string, string>, pid = process.pid): ClaimedHostNames {
  const byName = namedBindings(config);
  if (byName.size === 0) throw new HostsError('--add-hosts: no -L binding listens on a host name; write e.g. -L sql.corp.example.com:1433:relay', 'usage');
  for (const name of pins.keys()) {
    if (!byName.has(name)) throw new HostsError(`--add-hosts ${name}=${pins.get(name)}: no -L binding listens on ${name}`, 'usage');
  }
  const { names, cleaned } = editHostsFile(hostsFile, (doc) => {
    const stale = doc.entries().filter((e) => e.owner?.kind === 'bridge' && (e.owner.pid === pid || !isRunning(e.owner.pid)));
    doc.removeLines(stale.map((e) => e.line));
    const claimed: ClaimedHostName[] = [];
    for (const [key, { name }] of byName) claimed.push(claimOne(doc, name, pins.get(key), hostsFile, pid));
    return { names: claimed, cleaned: stale.length };
  });
  for (const claim of names) for (const binding of byName.get(claim.name.toLowerCase())!.bindings) binding.bindAddress = claim.address;

  const added = new Set(names.filter((n) => n.added).map((n) => n.name.toLowerCase()));
  let released = added.size === 0;
  return {
    names,
    cleaned,
    release: () => {
      if (released) return;
      released = true;
      editHostsFile(hostsFile, (doc) => {
        const ours = doc.entries().filter((e) => e.owner?.kind === 'bridge' && e.owner.pid === pid && e.names.some((n) => added.has(n.toLowerCase())));
        doc.removeLines(ours.map((e) => e.line));
      });
    },
  };
}

function claimOne(doc: HostsDocument, name: string, pin: string | undefined, hostsFile: string, pid: number): ClaimedHostName {
  const existing = doc.entriesFor(name);
  const live = existing.find((e) => e.owner?.kind === 'bridge');
  if (live && live.owner?.kind === 'bridge') {
    throw new HostsError(`${name} is already mapped in ${hostsFile} by another running bridge (pid ${live.owner.pid}); stop it, or listen on another name`, 'failure');
  }
  if (existing.length > 0) {
    const addresses = new Set(existing.map((e) => e.address));
    const [address] = addresses;
    if (addresses.size > 1) throw new HostsError(`${name} has several addresses in ${hostsFile} (${[...addresses].join(', ')}); leave one, or drop --add-hosts`, 'failure');
    if (pin !== undefined && pin !== address) throw new HostsError(`--add-hosts ${name}=${pin}: ${hostsFile} already maps ${name} to ${address} (line ${existing[0]!.line + 1})`, 'failure');
    if (!isIP(address!) || !isLocalAddress(address!)) throw new HostsError(`${hostsFile} maps ${name} to ${address}, which is not an address of this machine; fix that line, or drop --add-hosts`, 'failure');
    return { name, address: address!, added: false };
  }
  const address = pin ?? freeLoopbackAddress(doc);
  doc.append(address, name, { kind: 'bridge', pid });
  return { name, address, added: true };
}

/** The first 127.1.x.y (y 1-254) no entry of the file uses. */
function freeLoopbackAddress(doc: HostsDocument): string {
  const used = doc.addressesInUse();
  const [a, b] = FIRST_CANDIDATE;
  for (let c = 0; c < 256; c++) {
    for (let d = 1; d < 255; d++) {
      const candidate = `${a}.${b}.${c}.${d}`;
      if (!used.has(candidate)) return candidate;
    }
  }
  throw new HostsError('no free address left in 127.1.0.0/16; pin one with --add-hosts name=127.x.y.z', 'failure');
}

/** TCP and UDP -L bindings whose bind address is a host name, by lower-case name. */
function namedBindings(config: BridgeConfig): Map<string, { name: string; bindings: Exclude<LocalBinding, { kind: 'unix' }>[] }> {
  const found = new Map<string, { name: string; bindings: Exclude<LocalBinding, { kind: 'unix' }>[] }>();
  for (const forward of config.localForward) {
    for (const binding of forward.bindings) {
      if (binding.kind === 'unix' || binding.bindAddress === undefined) continue;
      const address = binding.bindAddress;
      if (isIP(address) !== 0 || address.toLowerCase() === 'localhost') continue;
      const key = address.toLowerCase();
      const group = found.get(key) ?? { name: address, bindings: [] };
      group.bindings.push(binding);
      found.set(key, group);
    }
  }
  return found;
}
