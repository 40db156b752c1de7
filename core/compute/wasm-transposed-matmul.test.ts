import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { selectBackend } from './backend.js';
import { tf } from './tf.js';

/** Values of `a x b` with the given flags on one backend. */
async function product(
  backend: 'cpu' | 'wasm',
  a: Float32Array,
  aShape: number[],
  b: Float32Array,
  bShape: number[],
  ta: boolean,
  tb: boolean,
): Promise<Float32Array> {
  await selectBackend(backend);
  return tf.tidy(
    () => tf.matMul(tf.tensor(a, aShape), tf.tensor(b, bShape), ta, tb).dataSync() as Float32Array,
  );
}

describe('wasm BatchMatMul with transposed operands', () => {
  it('matches the cpu kernels for every transpose combination, batched, odd and size-1 shapes', async () => {
    let seed = 7;
    const rand = (n: number): Float32Array =>
      Float32Array.from(
        { length: n },
        () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * 2 - 1,
      );
    for (const [batch, m, k, n] of [
      [1, 3, 5, 7],
      [2, 17, 1, 9],
      [3, 1, 4, 1],
      [1, 64, 33, 20],
    ] as const) {
      for (const ta of [false, true]) {
        for (const tb of [false, true]) {
          const aShape = batch === 1 ? (ta ? [k, m] : [m, k]) : ta ? [batch, k, m] : [batch, m, k];
          const bShape = batch === 1 ? (tb ? [n, k] : [k, n]) : tb ? [batch, n, k] : [batch, k, n];
          const a = rand(batch * m * k);
          const b = rand(batch * k * n);
          const want = await product('cpu', a, aShape, b, bShape, ta, tb);
          const got = await product('wasm', a, aShape, b, bShape, ta, tb);
          assert.equal(got.length, want.length);
          for (let i = 0; i < want.length; i++) {
            assert.ok(
              Math.abs(got[i]! - want[i]!) < 1e-5,
              `ta=${ta} tb=${tb} [${aShape}]x[${bShape}] at ${i}`,
            );
          }
        }
      }
    }
  });

  it('leaks no tensors', async () => {
    await selectBackend('wasm');
    const a = tf.ones([4, 3]);
    const b = tf.ones([5, 3]);
    const before = tf.memory().numTensors;
    const bytesBefore = tf.memory().numBytes;
    for (let i = 0; i < 3; i++) tf.matMul(a, b, false, true).dispose();
    assert.equal(tf.memory().numTensors, before);
    assert.equal(tf.memory().numBytes, bytesBefore);
  });
});
