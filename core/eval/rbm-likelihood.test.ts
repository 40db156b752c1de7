import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { randomRbm } from './testing.js';
import { selectBackend } from '../compute/backend.js';
import { tf } from '../compute/tf.js';
import { HarmoniumError } from '../errors.js';
import { EXACT_HIDDEN_LIMIT, exactLogLikelihood, exactLogPartition } from './rbm-likelihood.js';
import type { RbmWeights } from './rbm-likelihood.js';

before(async () => {
  await selectBackend('cpu');
});

function bits(code: number, n: number): number[] {
  return Array.from({ length: n }, (_, i) => (code >>> i) & 1);
}

function logSumExp(xs: number[]): number {
  const m = Math.max(...xs);
  return m + Math.log(xs.reduce((s, x) => s + Math.exp(x - m), 0));
}

const softplus = (x: number): number => Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x)));

/** -E(v, h) = v.a + h.b + v W h, in float64. */
function negEnergy(rbm: RbmWeights, v: number[], h: number[]): number {
  let e = 0;
  for (let i = 0; i < rbm.visible; i++) e += v[i]! * rbm.visibleBias[i]!;
  for (let j = 0; j < rbm.hidden; j++) e += h[j]! * rbm.hiddenBias[j]!;
  for (let i = 0; i < rbm.visible; i++) {
    for (let j = 0; j < rbm.hidden; j++) e += v[i]! * rbm.w[i * rbm.hidden + j]! * h[j]!;
  }
  return e;
}

describe('exact RBM log-likelihood', () => {
  it('log Z matches brute force over both v and h', () => {
    const rbm = randomRbm(5, 4, 1);
    const terms: number[] = [];
    for (let v = 0; v < 2 ** rbm.visible; v++) {
      for (let h = 0; h < 2 ** rbm.hidden; h++)
        terms.push(negEnergy(rbm, bits(v, rbm.visible), bits(h, rbm.hidden)));
    }
    assert.ok(Math.abs(exactLogPartition(rbm) - logSumExp(terms)) < 1e-4);
  });

  it('merges chunks correctly: 13 hidden units against the sum over 3 visible units', () => {
    const rbm = randomRbm(3, 13, 2, 2);
    const terms: number[] = [];
    for (let v = 0; v < 2 ** rbm.visible; v++) {
      const x = bits(v, rbm.visible);
      let t = 0;
      for (let i = 0; i < rbm.visible; i++) t += x[i]! * rbm.visibleBias[i]!;
      for (let j = 0; j < rbm.hidden; j++) {
        let a = rbm.hiddenBias[j]!;
        for (let i = 0; i < rbm.visible; i++) a += x[i]! * rbm.w[i * rbm.hidden + j]!;
        t += softplus(a);
      }
      terms.push(t);
    }
    const expected = logSumExp(terms);
    assert.ok(Math.abs(exactLogPartition(rbm) - expected) < 1e-4 * Math.max(1, Math.abs(expected)));
  });

  it('probabilities of all visible vectors sum to one', () => {
    const rbm = randomRbm(6, 5, 3);
    const n = 2 ** rbm.visible;
    const all = new Float32Array(n * rbm.visible);
    for (let v = 0; v < n; v++) all.set(bits(v, rbm.visible), v * rbm.visible);
    const logZ = exactLogPartition(rbm);
    const logPs: number[] = [];
    for (let v = 0; v < n; v++) {
      logPs.push(exactLogLikelihood(rbm, all.subarray(v * rbm.visible, (v + 1) * rbm.visible), 1, logZ));
    }
    assert.ok(Math.abs(logSumExp(logPs)) < 1e-4);
  });

  it('refuses more hidden units than it can enumerate, and leaks no tensors', () => {
    assert.throws(() => exactLogPartition(randomRbm(2, EXACT_HIDDEN_LIMIT + 1, 4)), HarmoniumError);
    const rbm = randomRbm(4, 3, 5);
    const before = tf.memory().numTensors;
    exactLogLikelihood(rbm, new Float32Array(8).fill(0.7), 2);
    assert.equal(tf.memory().numTensors, before);
  });
});
