/**
 * DESIGN.md's layout rules, read from the sources' import lines: bridge/ and tunnel/ configure one
 * sender end and one listener end and never import each other (what both need lives in
 * forwarding/, and the CLI hands each the other's protocol handler); protocol/ holds wire formats
 * and opens no socket; client/ knows nothing of bridges, tunnels or the relay server. Plus one rule
 * read from the code itself: timers are cleared through util/clear-timer.ts.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const SRC = fileURLToPath(new URL('../../../src/', import.meta.url));

interface ImportLine {
  file: string;
  /** The top-level folder under src/ the import resolves to, or the module name (node:net). */
  target: string;
  names: string;
  typeOnly: boolean;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts') ? [path] : [];
  });
}

function importsOf(file: string): ImportLine[] {
  const text = readFileSync(file, 'utf8');
  const lines: ImportLine[] = [];
  for (const m of text.matchAll(/^(?:import|export)\s+(type\s+)?([^'";]*?)\s*from\s+'([^']+)'/gms)) {
    const [, typeWord, names, spec] = m;
    const target = spec!.startsWith('.') ? relative(SRC, resolve(dirname(file), spec!)).split('/')[0]! : spec!;
    lines.push({ file: relative(SRC, file), target, names: names!, typeOnly: typeWord !== undefined });
  }
  return lines;
}

const ALL = sourceFiles(SRC).flatMap(importsOf);
const from = (folder: string) => ALL.filter((i) => i.file.startsWith(`${folder}/`));
const show = (lines: ImportLine[]) => lines.map((i) => `${i.file} -> ${i.target}`).join('\n');

describe('source layout (DESIGN.md)', () => {
  it('reads the import lines it judges (the parser is not blind)', () => {
    assert.ok(ALL.length > 500, `${ALL.length} import lines`);
    assert.ok(from('cli').some((i) => i.target === 'bridge') && from('cli').some((i) => i.target === 'tunnel'), 'the CLI imports both grammars');
  });

  it('bridge/ and tunnel/ never import each other', () => {
    const crossing = [...from('bridge').filter((i) => i.target === 'tunnel'), ...from('tunnel').filter((i) => i.target === 'bridge')];
    assert.deepEqual(crossing, [], show(crossing));
  });

  it('protocol/ imports only protocol/ and util/, and no module that opens a socket', () => {
    const allowedNode = new Set(['node:crypto', 'node:buffer', 'node:module']);
    const wrong = from('protocol').filter((i) => {
      if (i.target.startsWith('node:')) {
        if (allowedNode.has(i.target) || i.typeOnly) return false;
        // isIP is a parser; connect, createServer and the like are not.
        return !(i.target === 'node:net' && /^\{\s*isIP\s*\}$/.test(i.names.trim()));
      }
      return !['protocol', 'util'].includes(i.target);
    });
    assert.deepEqual(wrong, [], show(wrong));
  });

  it("timers are cleared through util/clear-timer.ts (an unref'd timer cleared by clearTimeout leaves Node's list for its duration behind)", () => {
    const direct = sourceFiles(SRC)
      .filter((file) => !relative(SRC, file).startsWith('dashboard/') && relative(SRC, file) !== 'util/clear-timer.ts')
      .filter((file) => /\bclear(?:Timeout|Interval)\(/.test(readFileSync(file, 'utf8')))
      .map((file) => relative(SRC, file));
    assert.deepEqual(direct, []);
  });

  it('client/ knows nothing of bridges, tunnels, the ends or the relay server', () => {
    const wrong = from('client').filter((i) => ['bridge', 'tunnel', 'forwarding', 'relay', 'cli', 'mux'].includes(i.target));
    assert.deepEqual(wrong, [], show(wrong));
  });
});
