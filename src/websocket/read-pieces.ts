/**
 * Joins the payload pieces cut from one network read (`read`) into one buffer, so that a reader
 * writes them on in one system call instead of one per piece. The pieces are views into `read`, in
 * order, with frame headers between them (parsed, and not needed any more): the smaller side is
 * moved over the gaps inside `read`, so little is copied and nothing is allocated. Pieces that are
 * not views into `read` in order are concatenated into a new buffer.
 */
export function joinReadPieces(read: Buffer, pieces: readonly Buffer[]): Buffer {
  if (pieces.length === 1) return pieces[0]!;
  if (!inOrderWithin(read, pieces)) return Buffer.concat(pieces);
  const first = pieces[0]!;
  const last = pieces[pieces.length - 1]!;
  const region = Buffer.from(first.buffer, first.byteOffset, last.byteOffset + last.length - first.byteOffset);
  const at = (piece: Buffer) => piece.byteOffset - first.byteOffset;
  let total = 0;
  for (const piece of pieces) total += piece.length;
  if (total - last.length <= total - first.length) {
    // Everything before the last piece moves right, up against it.
    let start = at(last);
    for (let i = pieces.length - 2; i >= 0; i--) {
      const piece = pieces[i]!;
      start -= piece.length;
      region.copyWithin(start, at(piece), at(piece) + piece.length);
    }
    return region.subarray(start);
  }
  // Everything after the first piece moves left, up against it.
  let end = first.length;
  for (let i = 1; i < pieces.length; i++) {
    const piece = pieces[i]!;
    region.copyWithin(end, at(piece), at(piece) + piece.length);
    end += piece.length;
  }
  return region.subarray(0, end);
}

function inOrderWithin(read: Buffer, pieces: readonly Buffer[]): boolean {
  let end = read.byteOffset;
  for (const piece of pieces) {
    if (piece.buffer !== read.buffer || piece.byteOffset < end) return false;
    end = piece.byteOffset + piece.length;
  }
  return end <= read.byteOffset + read.length;
}
