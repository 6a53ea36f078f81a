import { ValueError } from './config-error.js';

/**
 * Splitting forwarder expressions on ':', ';' and '/' while leaving bracketed parts whole, so that
 * IPv6 literals (`[::1]:8080`) and socket paths with awkward characters (`[/run/a:b.sock]`) survive.
 * Brackets do not nest.
 */

/** Positions of `separator` outside brackets; throws on an unbalanced bracket. */
function positionsOutside(text: string, separator: string): number[] {
  const found: number[] = [];
  let open = -1;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === '[') {
      if (open >= 0) throw new ValueError(`"${text}" has a '[' inside brackets`);
      open = i;
    } else if (ch === ']') {
      if (open < 0) throw new ValueError(`"${text}" has a ']' without a '['`);
      open = -1;
    } else if (ch === separator && open < 0) {
      found.push(i);
    }
  }
  if (open >= 0) throw new ValueError(`"${text}" has a '[' without a ']'`);
  return found;
}

export function splitOutsideBrackets(text: string, separator: string): string[] {
  const parts: string[] = [];
  let start = 0;
  for (const i of positionsOutside(text, separator)) {
    parts.push(text.slice(start, i));
    start = i + 1;
  }
  parts.push(text.slice(start));
  return parts;
}

export function firstIndexOutsideBrackets(text: string, separator: string): number {
  return positionsOutside(text, separator)[0] ?? -1;
}

export function lastIndexOutsideBrackets(text: string, separator: string): number {
  const found = positionsOutside(text, separator);
  return found.length > 0 ? found[found.length - 1] : -1;
}

/** `[inner]rest` → { inner, rest }; undefined when `text` does not start with '['. */
export function leadingBracket(text: string): { inner: string; rest: string } | undefined {
  if (!text.startsWith('[')) return undefined;
  const close = text.indexOf(']');
  if (close < 0) throw new ValueError(`"${text}" has a '[' without a ']'`);
  return { inner: text.slice(1, close), rest: text.slice(close + 1) };
}
