/**
 * joinReadPieces(): the payload pieces of one network read become one buffer with the same bytes
 * in the same order, moved within the read (no copy of the whole), or concatenated when they are
 * not views into that read in order.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { joinReadPieces } from '../../src/websocket/read-pieces.js';

/** A read holding `parts` with a header-sized gap of 0xee bytes before each; returns it and the views of the parts. */
function readWith(parts: string[], gap = 4): { read: Buffer; pieces: Buffer[] } {
  const chunks: Buffer[] = [];
  for (const part of parts) chunks.push(Buffer.alloc(gap, 0xee), Buffer.from(part));
  const read = Buffer.concat(chunks);
  const pieces: Buffer[] = [];
  let offset = 0;
  for (const part of parts) {
    offset += gap;
    pieces.push(read.subarray(offset, offset + part.length));
    offset += part.length;
  }
  return { read, pieces };
}

describe('joinReadPieces', () => {
  it('returns a lone piece as it is', () => {
    const { read, pieces } = readWith(['only']);
    assert.equal(joinReadPieces(read, pieces), pieces[0]);
  });

  it('joins a short piece before a long one inside the read', () => {
    const { read, pieces } = readWith(['ab', 'cdefghijkl']);
    const joined = joinReadPieces(read, pieces);
    assert.equal(joined.toString(), 'abcdefghijkl');
    assert.equal(joined.buffer, read.buffer);
  });

  it('joins a long piece before a short one inside the read', () => {
    const { read, pieces } = readWith(['abcdefghij', 'kl']);
    const joined = joinReadPieces(read, pieces);
    assert.equal(joined.toString(), 'abcdefghijkl');
    assert.equal(joined.buffer, read.buffer);
  });

  it('joins many pieces of different sizes in order', () => {
    const parts = ['a', 'bcdefgh', 'ij', 'klmnopqrstuvwxyz', 'AB', 'C'];
    const { read, pieces } = readWith(parts, 10);
    assert.equal(joinReadPieces(read, pieces).toString(), parts.join(''));
  });

  it('joins pieces that touch (no gap) unchanged', () => {
    const { read, pieces } = readWith(['abc', 'def'], 0);
    assert.equal(joinReadPieces(read, pieces).toString(), 'abcdef');
  });

  it('concatenates pieces that are not views into the read, or out of order', () => {
    const { read, pieces } = readWith(['abc', 'def']);
    assert.equal(joinReadPieces(read, [Buffer.from('xy'), pieces[1]!]).toString(), 'xydef');
    assert.equal(joinReadPieces(read, [pieces[1]!, pieces[0]!]).toString(), 'defabc');
    assert.equal(read.subarray(4, 7).toString(), 'abc', 'the read is left as it was');
  });
});
