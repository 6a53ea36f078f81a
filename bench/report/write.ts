/** Writes latest.json, latest.md and latest.svg into the results directory. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderMarkdown } from './markdown.js';
import type { BenchResult } from './model.js';
import { renderSvg } from './svg.js';

export function writeResults(dir: string, result: BenchResult): string[] {
  mkdirSync(dir, { recursive: true });
  const files = [join(dir, 'latest.json'), join(dir, 'latest.md'), join(dir, 'latest.svg')];
  writeFileSync(files[0]!, `${JSON.stringify(result, null, 2)}\n`);
  writeFileSync(files[1]!, renderMarkdown(result));
  writeFileSync(files[2]!, renderSvg(result));
  return files;
}
