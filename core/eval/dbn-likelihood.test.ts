import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { randomRbm } from './testing.js';
import { selectBackend } from '../compute/backend.js';
import { tf } from '../compute/tf.js';
import { Rng } from '../data/rng.js';
import { HarmoniumError } from '../errors.js';
import { dbnBoundTerms } from './dbn-likelihood.js';
import { baseRateBias } from './rbm-ais.js';
import { exactLogLikelihood, exactLogPartition } from './rbm-likelihood.js';
import type { RbmWeights } from './rbm-likelihood.js';

before(async () => {
  await selectBackend('native', { threads: 1 });
});

const softplus = (x: number): number => Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x)));

function bits(code: number, n: number): number[] {
  return Array.from({ length: n }, (_, i) => (code >>> i) & 1);
}

function logSumExp(xs: number[]): number {
  const m = Math.max(...xs);
  return m + Math.log(xs.reduce((s, x) => s + Math.exp(x - m), 0));
}

/** log prod_k Bern(x_k; sigmoid(z_k)), in float64. */
function logBernoulli(x: number[], z: number[]): number {
  return x.reduce((s, xk, k) => s + xk * z[k]! - softplus(z[k]!), 0);
}

/** x W + b (the up-pass logits). */
function upLogits(r: RbmWeights, x: number[]): number[] {
  return Array.from({ length: r.hidden }, (_, j) =>
    x.reduce((s, xi, i) => s + xi * r.w[i * r.hidden + j]!, r.hiddenBias[j]!),
  );
}

/** h W^T + a (the generative logits of the layer below). */
function downLogits(r: RbmWeights, h: number[]): number[] {
  return Array.from({ length: r.visible }, (_, i) =>
    h.reduce((s, hj, j) => s + hj * r.w[i * r.hidden + j]!, r.visibleBias[i]!),
  );
}

/** log p*(x) = -F(x) of an RBM. */
function negFreeEnergy(r: RbmWeights, x: number[]): number {
  return (
    upLogits(r, x).reduce((s, z) => s + softplus(z), 0) +
    x.reduce((s, xi, i) => s + xi * r.visibleBias[i]!, 0)
  );
}

/**
 * By enumerating every hidden layer below the top in float64: the mean and variance of log w under
 * the up-pass posterior q, and log p*(v) = log p(v) + log Z (the sum of p(v, h) over those layers).
 */
function exactTerms(rbms: readonly RbmWeights[], v: number[]) {
  const top = rbms.length - 1;
  const logJoint: number[] = [];
  let mean = 0;
  let square = 0;
  const walk = (i: number, below: number[], logq: number, logp: number): void => {
    if (i === top) {
      const logw = logp + negFreeEnergy(rbms[top]!, below) - logq;
      logJoint.push(logw + logq);
      mean += Math.exp(logq) * logw;
      square += Math.exp(logq) * logw * logw;
      return;
    }
    const r = rbms[i]!;
    const z = upLogits(r, below);
    for (let code = 0; code < 2 ** r.hidden; code++) {
      const h = bits(code, r.hidden);
      walk(i + 1, h, logq + logBernoulli(h, z), logp + logBernoulli(below, downLogits(r, h)));
    }
  };
  walk(0, v, 0, 0);
  return { mean, variance: square - mean * mean, logPStar: logSumExp(logJoint) };
}

function binaryImages(count: number, n: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  return Float32Array.from({ length: count * n }, () => (rng.uniform() < 0.5 ? 1 : 0));
}

function row(data: Float32Array, r: number, n: number): number[] {
  return Array.from(data.subarray(r * n, (r + 1) * n));
}

function net(sizes: readonly number[], seed: number, scale = 1): RbmWeights[] {
  return sizes.slice(1).map((m, i) => randomRbm(sizes[i]!, m, seed + i, scale));
}

describe('DBN lower bound', () => {
  for (const sizes of [
    [6, 5, 4],
    [4, 3, 3, 2],
  ]) {
    it(`matches the bound computed by enumeration, below the exact log p(v) (${sizes.join('-')})`, () => {
      const rbms = net(sizes, 1);
      const n = sizes[0]!;
      const data = binaryImages(3, n, 2);
      const samples = 4000;
      const terms = dbnBoundTerms(rbms, data, 3, new Rng(3), samples);
      const logZ = exactLogPartition(rbms[rbms.length - 1]!);
      let mean = 0;
      for (let r = 0; r < 3; r++) {
        const e = exactTerms(rbms, row(data, r, n));
        const se = Math.sqrt(e.variance / samples);
        const got = terms.logWeights[r]!;
        assert.ok(se > 1e-3, `the net's posterior is not trivial: sd ${se}`);
        assert.ok(Math.abs(got - e.mean) < 4 * se, `image ${r}: ${got} vs exact ${e.mean}, se ${se}`);
        // Jensen's gap is KL(q || p) > 0 for this random net, well beyond the noise.
        assert.ok(e.mean < e.logPStar - 0.05, `bound ${e.mean - logZ}, log p(v) ${e.logPStar - logZ}`);
        mean += got / 3;
      }
      assert.ok(Math.abs(terms.meanLogWeight - mean) < 1e-9);
    });
  }

  it('is log p(v) for every sample when the up-pass is the true posterior', () => {
    // W = 0 everywhere and the recognition bias of h1 equal to the top RBM's visible bias: then
    // p(h1 | v) = p(h1) = prod sigmoid(a_2) = q(h1 | v), so log w = log p(v) + log Z exactly.
    const [bottom, topRbm] = net([6, 5, 4], 4);
    const rbms = [
      { ...bottom!, w: new Float32Array(30), hiddenBias: topRbm!.visibleBias },
      { ...topRbm!, w: new Float32Array(20) },
    ];
    const data = binaryImages(5, 6, 5);
    const terms = dbnBoundTerms(rbms, data, 5, new Rng(6));
    for (let r = 0; r < 5; r++) {
      const e = exactTerms(rbms, row(data, r, 6));
      assert.ok(Math.abs(e.variance) < 1e-9 && Math.abs(e.mean - e.logPStar) < 1e-9);
      assert.ok(
        Math.abs(terms.logWeights[r]! - e.logPStar) < 1e-4,
        `${terms.logWeights[r]} vs ${e.logPStar}`,
      );
    }
  });

  it("is the RBM's exact log-likelihood for one layer, with the data's base rate", () => {
    const rbm = randomRbm(7, 5, 7);
    const data = new Rng(8).fillUniform(new Float32Array(10 * 7));
    const terms = dbnBoundTerms([rbm], data, 10, new Rng(9));
    const logZ = exactLogPartition(rbm);
    assert.ok(Math.abs(terms.meanLogWeight - logZ - exactLogLikelihood(rbm, data, 10, logZ)) < 1e-4);
    assert.deepEqual(terms, dbnBoundTerms([rbm], data, 10, new Rng(10)));
    const base = baseRateBias(data, 10, 7);
    terms.topBaseBias.forEach((b, i) => assert.ok(Math.abs(b - base[i]!) < 1e-5, `unit ${i}`));
  });

  it('takes the top base rate from the sampled states of the layer below the top', () => {
    const rbms = net([6, 5, 4], 11);
    const data = binaryImages(4, 6, 12);
    const samples = 5000;
    const terms = dbnBoundTerms(rbms, data, 4, new Rng(13), samples);
    // Expected on-fraction: the mean of q(h1 = 1 | v) over the images.
    for (let j = 0; j < 5; j++) {
      let p = 0;
      for (let r = 0; r < 4; r++) p += 1 / (1 + Math.exp(-upLogits(rbms[0]!, row(data, r, 6))[j]!)) / 4;
      const got = 1 / (1 + Math.exp(-terms.topBaseBias[j]!));
      assert.ok(Math.abs(got - p) < 0.02, `unit ${j}: ${got} vs ${p}`);
    }
  });

  it('binarises at 0.5, is deterministic for a seed, chunks without changing the answer, leaks nothing', () => {
    const rbms = net([6, 5, 4], 14);
    const grey = new Rng(15).fillUniform(new Float32Array(1500 * 6));
    const binary = grey.map((x) => (x > 0.5 ? 1 : 0));
    const before = tf.memory().numTensors;
    const a = dbnBoundTerms(rbms, grey, 1500, new Rng(16));
    assert.equal(tf.memory().numTensors, before);
    assert.deepEqual(dbnBoundTerms(rbms, binary, 1500, new Rng(16)), a);
    assert.notDeepEqual(dbnBoundTerms(rbms, grey, 1500, new Rng(17)).logWeights, a.logWeights);
    // 1500 images run as two chunks; the first 1000 form the first chunk on their own too.
    const first = dbnBoundTerms(rbms, grey, 1000, new Rng(16));
    assert.deepEqual(first.logWeights, a.logWeights.subarray(0, 1000));
  });

  it('refuses nets whose layers do not fit, and empty sets', () => {
    const rbms = net([6, 5, 4], 18);
    const data = new Float32Array(12);
    const bad = [
      () => dbnBoundTerms([], data, 2, new Rng(1)),
      () => dbnBoundTerms([rbms[0]!, randomRbm(4, 3, 1)], data, 2, new Rng(1)),
      () => dbnBoundTerms([{ ...rbms[0]!, hiddenBias: new Float32Array(4) }, rbms[1]!], data, 2, new Rng(1)),
      () => dbnBoundTerms(rbms, data, 0, new Rng(1)),
      () => dbnBoundTerms(rbms, data, 3, new Rng(1)),
      () => dbnBoundTerms(rbms, data, 2, new Rng(1), 0),
    ];
    for (const f of bad)
      assert.throws(f, (err: unknown) => err instanceof HarmoniumError && err.code === 'MODEL_INVALID');
  });
});
