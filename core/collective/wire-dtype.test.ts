/**
 * The 16-bit wire conversions against independent references: every bfloat16 and half value
 * survives a round trip; random float32 values round to the nearest representable value (found by
 * search over all of them, ties to the even one), including half's subnormals and overflow.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Rng } from '../data/rng.js';
import { packWire, roundToWire, unpackWire, wireBytes, type WireDtype } from './wire-dtype.js';

/** Every finite value of a 16-bit dtype, ascending, with its bits. */
function finiteValues(dtype: 'bf16' | 'fp16'): { value: number; bits: number }[] {
  const all: { value: number; bits: number }[] = [];
  for (let h = 0; h < 65536; h++) {
    const bytes = Uint8Array.of(h & 0xff, h >>> 8);
    const value = unpackWire(bytes, dtype)[0]!;
    if (Number.isFinite(value) && !(value === 0 && h !== 0)) all.push({ value, bits: h });
  }
  return all.sort((a, b) => a.value - b.value);
}

/** The nearest of `values` to x, ties to the one with even bits; ±Infinity past the rounding edge. */
function nearest(values: { value: number; bits: number }[], x: number, edge: number): number {
  if (Math.abs(x) >= edge) return Math.sign(x) * Infinity;
  let lo = 0;
  let hi = values.length - 1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (values[mid]!.value <= x) lo = mid;
    else hi = mid;
  }
  const a = values[lo]!;
  const b = values[hi]!;
  const da = Math.abs(x - a.value);
  const db = Math.abs(b.value - x);
  if (da !== db) return da < db ? a.value : b.value;
  return (a.bits & 1) === 0 ? a.value : b.value;
}

for (const [dtype, edge] of [
  // Halfway between the largest finite value and the next power of two, which rounds up (even).
  ['bf16', (2 - 2 ** -8) * 2 ** 127],
  ['fp16', 65520],
] as const) {
  test(`${dtype}: every finite value survives packing, and float32 values round to the nearest (ties even)`, () => {
    const values = finiteValues(dtype);
    const asFloats = Float32Array.from(values, (v) => v.value);
    const packed = new Uint8Array(asFloats.length * wireBytes(dtype));
    packWire(asFloats, dtype, packed, 0);
    assert.deepEqual([...unpackWire(packed, dtype)], [...asFloats]);
    const rounded = asFloats.slice();
    roundToWire(rounded, dtype);
    assert.deepEqual([...rounded], [...asFloats], 'representable values do not move');

    const rng = new Rng(dtype === 'bf16' ? 11 : 12);
    const xs = new Float32Array(20_000);
    const bits = new Uint32Array(xs.buffer);
    for (let i = 0; i < xs.length; i++) {
      // Random bit patterns cover every exponent; ties and edges are added below.
      do bits[i] = Math.floor(rng.uniform() * 2 ** 32);
      while (!Number.isFinite(xs[i]!));
      if (dtype === 'fp16' && i % 2 === 0) xs[i] = (rng.uniform() - 0.5) * 2 ** (-30 + 50 * rng.uniform());
    }
    const ties =
      dtype === 'bf16'
        ? [1 + 2 ** -8, 1 + 3 * 2 ** -8, -(1 + 2 ** -8)]
        : [1 + 2 ** -11, 1 + 3 * 2 ** -11, 2 ** -25, 3 * 2 ** -25, 65519, 65520, -65520];
    const cases = Float32Array.from([...xs, ...ties]);
    const got = cases.slice();
    roundToWire(got, dtype);
    for (let i = 0; i < cases.length; i++) {
      const want = nearest(values, cases[i]!, edge);
      if (!Object.is(got[i], want) && !(got[i] === 0 && want === 0)) {
        assert.fail(`${dtype}: ${cases[i]} rounded to ${got[i]}, want ${want}`);
      }
    }
  });
}

test('NaN stays NaN and infinities stay infinite on every wire', () => {
  for (const dtype of ['float32', 'bf16', 'fp16'] as WireDtype[]) {
    const a = Float32Array.of(NaN, Infinity, -Infinity);
    roundToWire(a, dtype);
    const out = new Uint8Array(3 * wireBytes(dtype));
    packWire(a, dtype, out, 0);
    const back = unpackWire(out, dtype);
    assert.ok(Number.isNaN(back[0]), dtype);
    assert.deepEqual([back[1], back[2]], [Infinity, -Infinity], dtype);
  }
});
