/**
 * A hosts file (hosts(5)) as lines: `address name [alias...] [# comment]`, blank lines, comments.
 * Only lines hybridge adds or removes change; every other line keeps its exact bytes (spacing,
 * comments, CRLF endings, a missing final newline). hybridge's own lines end in a marker comment:
 *
 *   127.1.0.1	sql.corp.example.com	# hybridge                   hybridge hosts add
 *   127.1.0.2	api.corp.example.com	# hybridge bridge pid=4242   bridge --add-hosts, while pid runs
 *
 * No I/O here (hosts-store.ts reads and writes the file).
 */

export type EntryOwner = { kind: 'hosts' } | { kind: 'bridge'; pid: number };

export interface HostsEntry {
  /** Index of the line in the file. */
  line: number;
  address: string;
  /** The canonical name and its aliases, as written. */
  names: string[];
  /** Set for lines hybridge wrote. */
  owner: EntryOwner | undefined;
}

const MARKER = /^#\s*hybridge(?:\s+bridge\s+pid=([0-9]{1,10}))?\s*$/;

export function ownerMarker(owner: EntryOwner): string {
  return owner.kind === 'bridge' ? `# hybridge bridge pid=${owner.pid}` : '# hybridge';
}

export class HostsDocument {
  private constructor(private lines: string[]) {}

  static parse(text: string): HostsDocument {
    return new HostsDocument(text.match(/[^\n]*\n|[^\n]+$/g) ?? []);
  }

  toString(): string {
    return this.lines.join('');
  }

  entries(): HostsEntry[] {
    const found: HostsEntry[] = [];
    this.lines.forEach((raw, line) => {
      const text = raw.replace(/\r?\n$/, '');
      const hash = text.indexOf('#');
      const fields = (hash < 0 ? text : text.slice(0, hash)).trim().split(/\s+/).filter(Boolean);
      if (fields.length < 2) return;
      const marker = hash < 0 ? undefined : MARKER.exec(text.slice(hash).trim());
      const owner: EntryOwner | undefined = marker ? (marker[1] ? { kind: 'bridge', pid: Number(marker[1]) } : { kind: 'hosts' }) : undefined;
      found.push({ line, address: fields[0]!, names: fields.slice(1), owner });
    });
    return found;
  }

  /** Entries that map `name` (case-insensitive, as resolvers compare). */
  entriesFor(name: string): HostsEntry[] {
    const wanted = name.toLowerCase();
    return this.entries().filter((e) => e.names.some((n) => n.toLowerCase() === wanted));
  }

  /** Every address some entry uses (as written, lower case). */
  addressesInUse(): Set<string> {
    return new Set(this.entries().map((e) => e.address.toLowerCase()));
  }

  /** Appends `address<TAB>name<TAB># marker` in the file's line-ending style. */
  append(address: string, name: string, owner: EntryOwner): void {
    const eol = this.lines.some((l) => l.endsWith('\r\n')) ? '\r\n' : '\n';
    const last = this.lines.length - 1;
    if (last >= 0 && !this.lines[last]!.endsWith('\n')) this.lines[last] += eol;
    this.lines.push(`${address}\t${name}\t${ownerMarker(owner)}${eol}`);
  }

  /** Removes whole lines (indexes from entries()). */
  removeLines(indexes: Iterable<number>): void {
    const drop = new Set(indexes);
    this.lines = this.lines.filter((_, i) => !drop.has(i));
  }
}
