import { createRequire } from 'node:module';

/**
 * WebSocket payload masking (RFC 6455 §5.3). Uses the optional native `bufferutil` addon when it
 * is installed and falls back to plain JavaScript otherwise.
 */
interface NativeMasking {
  mask(source: Buffer, mask: Buffer, output: Buffer, offset: number, length: number): void;
  unmask(buffer: Buffer, mask: Buffer): void;
}

function loadNative(): NativeMasking | undefined {
  if (process.env.HYBRIDGE_NO_NATIVE_MASK === '1') return undefined;
  try {
    const require = createRequire(import.meta.url);
    return require('bufferutil') as NativeMasking;
  } catch {
    return undefined;
  }
}

const native = loadNative();

/** Below this size the JavaScript loop beats the cost of crossing into the addon. */
const NATIVE_THRESHOLD = 64;

/** Returns the mask rotated so that byte 0 of the result applies at payload position `offset`. */
export function rotateMask(mask: Buffer, offset: number): Buffer {
  const shift = offset & 3;
  if (shift === 0) return mask;
  return Buffer.from([mask[shift]!, mask[(shift + 1) & 3]!, mask[(shift + 2) & 3]!, mask[(shift + 3) & 3]!]);
}

/** XORs `buffer` in place with `mask`, where buffer[0] sits at payload position `offset`. */
export function unmaskInPlace(buffer: Buffer, mask: Buffer, offset = 0): void {
  if (mask.readUInt32BE(0) === 0) return;
  const m = rotateMask(mask, offset);
  if (native && buffer.length >= NATIVE_THRESHOLD) {
    native.unmask(buffer, m);
    return;
  }
  const m0 = m[0]!, m1 = m[1]!, m2 = m[2]!, m3 = m[3]!;
  const len = buffer.length;
  let i = 0;
  for (; i + 3 < len; i += 4) {
    buffer[i] = buffer[i]! ^ m0;
    buffer[i + 1] = buffer[i + 1]! ^ m1;
    buffer[i + 2] = buffer[i + 2]! ^ m2;
    buffer[i + 3] = buffer[i + 3]! ^ m3;
  }
  for (; i < len; i++) buffer[i] = buffer[i]! ^ m[i & 3]!;
}

/** Writes `source` XOR `mask` into `output` starting at `outputOffset` (mask position 0 at source[0]). */
export function maskInto(source: Buffer, mask: Buffer, output: Buffer, outputOffset: number): void {
  if (native && source.length >= NATIVE_THRESHOLD) {
    native.mask(source, mask, output, outputOffset, source.length);
    return;
  }
  for (let i = 0; i < source.length; i++) output[outputOffset + i] = source[i]! ^ mask[i & 3]!;
}

export const nativeMaskingAvailable = native !== undefined;
