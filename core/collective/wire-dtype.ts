/**
 * How an all-reduce's floats travel: float32 as they are, or 16 bits each (bfloat16: float32's
 * range with 8 bits of precision; IEEE half: 11 bits of precision, magnitudes 6e-8 to 65504).
 * Sums are always taken in float32; a 16-bit wire rounds a value (round to nearest, ties to even)
 * once, before it is sent, so that the bits sent are the value every rank keeps: see
 * ring-allreduce.ts. Rounding a value that is already representable changes nothing, which makes
 * packing after {@link roundToWire} exact.
 */
export type WireDtype = 'float32' | 'bf16' | 'fp16';

export const WIRE_DTYPES: readonly WireDtype[] = ['float32', 'bf16', 'fp16'];

/** Bytes one element takes on the wire. */
export function wireBytes(dtype: WireDtype): number {
  return dtype === 'float32' ? 4 : 2;
}

/** Float32 bits to bfloat16 bits, rounded to nearest even; NaN stays a (quiet) NaN. */
function bf16Bits(u: number): number {
  if ((u & 0x7f800000) === 0x7f800000 && (u & 0x7fffff) !== 0) return ((u >>> 16) | 0x40) & 0xffff;
  return ((u + 0x7fff + ((u >>> 16) & 1)) >>> 16) & 0xffff;
}

/** Float32 bits to IEEE half bits, rounded to nearest even; past 65504 (after rounding) is infinity. */
function fp16Bits(u: number): number {
  const sign = (u >>> 16) & 0x8000;
  const exp = (u >>> 23) & 0xff;
  const mant = u & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant !== 0 ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    // Subnormal half (or zero): the implicit bit joins the mantissa, shifted by 14 - e places.
    if (e < -10) return sign;
    const m = mant | 0x800000;
    const shift = 14 - e;
    let r = m >>> shift;
    const rest = m & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    if (rest > half || (rest === half && (r & 1) === 1)) r++;
    return sign | r;
  }
  let r = (e << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  // A carry out of the mantissa moves into the exponent, as it must (up to infinity).
  if (rest > 0x1000 || (rest === 0x1000 && (r & 1) === 1)) r++;
  return sign | r;
}

/** Every half's float32 value, by its bits: decoding is one lookup. */
let halfTable: Float32Array | null = null;
function halves(): Float32Array {
  if (halfTable !== null) return halfTable;
  const t = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >>> 10) & 0x1f;
    const mant = h & 0x3ff;
    if (exp === 0) t[h] = sign * mant * 2 ** -24;
    else if (exp === 0x1f) t[h] = mant === 0 ? sign * Infinity : NaN;
    else t[h] = sign * (1 + mant / 1024) * 2 ** (exp - 15);
  }
  halfTable = t;
  return t;
}

/** Rounds `data` in place to the values `dtype` can carry (float32: unchanged). */
export function roundToWire(data: Float32Array, dtype: WireDtype): void {
  if (dtype === 'float32') return;
  const bits = new Uint32Array(data.buffer, data.byteOffset, data.length);
  if (dtype === 'bf16') {
    for (let i = 0; i < bits.length; i++) bits[i] = bf16Bits(bits[i]!) << 16;
  } else {
    const t = halves();
    for (let i = 0; i < bits.length; i++) {
      const u = bits[i]!;
      const e = (u >>> 23) & 0xff;
      if (e >= 113 && e <= 142) {
        // A normal half: drop 13 mantissa bits, rounding to nearest even, in the float32 bits.
        const r = (u + 0xfff + ((u >>> 13) & 1)) & 0xffffe000;
        bits[i] = ((r >>> 23) & 0xff) > 142 ? (u & 0x80000000) | 0x7f800000 : r;
      } else {
        data[i] = t[fp16Bits(u)]!;
      }
    }
  }
}

/** `bytes` as 16-bit values: a view where aligned, else an aligned copy (one memcpy). */
function halfWords(bytes: Uint8Array): Uint16Array {
  if ((bytes.byteOffset & 1) === 0) return new Uint16Array(bytes.buffer, bytes.byteOffset, bytes.length >> 1);
  const words = new Uint16Array(bytes.length >> 1);
  new Uint8Array(words.buffer).set(bytes);
  return words;
}

/**
 * Writes `data` as `dtype` little-endian into `out` at `offset` (data.length * wireBytes bytes).
 * For a 16-bit dtype the values must be ones it carries ({@link roundToWire} made them so: the
 * ring rounds every array before it sends it), so bfloat16 takes each value's high half as it is
 * rather than rounding a second time; an even `out.byteOffset + offset` writes in place, an odd
 * one through one extra copy.
 */
export function packWire(data: Float32Array, dtype: WireDtype, out: Uint8Array, offset: number): void {
  if (dtype === 'float32') {
    out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), offset);
    return;
  }
  const n = data.length;
  const at = out.byteOffset + offset;
  const aligned = (at & 1) === 0;
  const words = aligned ? new Uint16Array(out.buffer, at, n) : new Uint16Array(n);
  const bits = new Uint32Array(data.buffer, data.byteOffset, n);
  if (dtype === 'bf16') for (let i = 0; i < n; i++) words[i] = bits[i]! >>> 16;
  else for (let i = 0; i < n; i++) words[i] = fp16Bits(bits[i]!);
  if (!aligned) out.set(new Uint8Array(words.buffer), offset);
}

/** Reads `bytes` (a whole number of `dtype` elements, little-endian) into a new Float32Array. */
export function unpackWire(bytes: Uint8Array, dtype: WireDtype): Float32Array {
  const out = new Float32Array(bytes.length / wireBytes(dtype));
  if (dtype === 'float32') {
    new Uint8Array(out.buffer).set(bytes);
    return out;
  }
  const words = halfWords(bytes);
  if (dtype === 'bf16') {
    const bits = new Uint32Array(out.buffer);
    for (let i = 0; i < out.length; i++) bits[i] = words[i]! << 16;
  } else {
    const t = halves();
    for (let i = 0; i < out.length; i++) out[i] = t[words[i]!]!;
  }
  return out;
}
