import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { selectBackend } from '../compute/backend.js';
import { tf } from '../compute/tf.js';
import { Rng } from '../data/rng.js';
import { TensorAdam } from './tensor-adam.js';

before(async () => {
  await selectBackend('native', { threads: 1 });
});

/**
 * L = sum_i a_i p_i^2 / 2 + q_i p_i + c p_0 p_1 over the entries of both parameters flattened
 * (a 2 x 3 matrix then a vector of 4): the cross term couples the two tensors.
 */
const SHAPES = [[2, 3], [4]] as const;
const C = 0.7;

function lossFloat64(
  p: Float64Array,
  a: Float64Array,
  q: Float64Array,
): { loss: number; grads: Float64Array } {
  let loss = C * p[0]! * p[1]!;
  const grads = new Float64Array(p.length);
  for (let i = 0; i < p.length; i++) {
    loss += (a[i]! * p[i]! * p[i]!) / 2 + q[i]! * p[i]!;
    grads[i] = a[i]! * p[i]! + q[i]!;
  }
  grads[0]! += C * p[1]!;
  grads[1]! += C * p[0]!;
  return { loss, grads };
}

/**
 * Adam in float64 as the paper writes it, bias corrections on the moments; eps is scaled by
 * 1 / sqrt(1 - beta2^t) because folding the corrections into the step size does that to it.
 */
function adamFloat64(p: Float64Array, a: Float64Array, q: Float64Array, lrs: readonly number[]): number[] {
  const m = new Float64Array(p.length);
  const v = new Float64Array(p.length);
  const losses: number[] = [];
  lrs.forEach((lr, k) => {
    const t = k + 1;
    const { loss, grads } = lossFloat64(p, a, q);
    losses.push(loss);
    for (let i = 0; i < p.length; i++) {
      m[i] = 0.9 * m[i]! + 0.1 * grads[i]!;
      v[i] = 0.999 * v[i]! + 0.001 * grads[i]! ** 2;
      const mh = m[i]! / (1 - 0.9 ** t);
      const vh = v[i]! / (1 - 0.999 ** t);
      p[i] = p[i]! - (lr * mh) / (Math.sqrt(vh) + 1e-8 / Math.sqrt(1 - 0.999 ** t));
    }
  });
  return losses;
}

describe('TensorAdam', () => {
  it('takes the steps of a float64 Adam, returns the loss before each, and frees every tensor', () => {
    const rng = new Rng(11);
    const size = 10;
    const p0 = rng.fillNormal(new Float32Array(size));
    const a = Float64Array.from(rng.fillNormal(new Float32Array(size), 1, 0.3), Math.abs);
    const q = Float64Array.from(rng.fillNormal(new Float32Array(size)));
    const lrs = [0.1, 0.05, 0.02];

    const before = tf.memory().numTensors;
    const aT = tf.tensor1d(Float32Array.from(a));
    const qT = tf.tensor1d(Float32Array.from(q));
    const lossAndGrads = tf.valueAndGrads((w: tf.Tensor, b: tf.Tensor) => {
      const flat = tf.concat([tf.reshape(w, [-1]), b]);
      const quad = tf.sum(tf.add(tf.mul(tf.mul(aT, tf.square(flat)), 0.5), tf.mul(qT, flat)));
      const cross = tf.mul(tf.mul(tf.slice(flat, 0, 1), tf.slice(flat, 1, 1)), C);
      return tf.add(quad, tf.sum(cross)) as tf.Scalar;
    });
    const adam = new TensorAdam([
      tf.tensor2d(p0.subarray(0, 6), [...SHAPES[0]]),
      tf.tensor1d(p0.subarray(6)),
    ]);
    const losses: number[] = [];
    for (const lr of lrs) {
      const loss = adam.step(lr, lossAndGrads);
      losses.push(loss.dataSync()[0]!);
      loss.dispose();
    }
    assert.equal(adam.steps, lrs.length);
    const got = Float64Array.from([...adam.params[0]!.dataSync(), ...adam.params[1]!.dataSync()]);
    assert.deepEqual(
      adam.params.map((t) => t.shape),
      SHAPES.map((s) => [...s]),
    );
    adam.dispose();
    tf.dispose([aT, qT]);
    assert.equal(tf.memory().numTensors, before);

    const want = Float64Array.from(p0);
    const wantLosses = adamFloat64(want, a, q, lrs);
    for (let i = 0; i < size; i++) {
      assert.ok(Math.abs(got[i]! - want[i]!) < 1e-5, `param ${i}: ${got[i]} vs ${want[i]}`);
    }
    losses.forEach((l, k) => {
      assert.ok(Math.abs(l - wantLosses[k]!) < 1e-4 * Math.max(1, Math.abs(wantLosses[k]!)), `loss ${k}`);
    });
  });
});
