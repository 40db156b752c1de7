import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { randomRbm } from './testing.js';
import { selectBackend } from '../compute/backend.js';
import { tf } from '../compute/tf.js';
import { Rng } from '../data/rng.js';
import { HarmoniumError } from '../errors.js';
import { BASE_RATE_CLIP, aisLogPartition, baseRateBias, betaSchedule } from './rbm-ais.js';
import { exactLogPartition } from './rbm-likelihood.js';
import type { RbmWeights } from './rbm-likelihood.js';

before(async () => {
  await selectBackend('native', { threads: 1 });
});

const softplus = (x: number): number => Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x)));

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return err instanceof HarmoniumError ? err.code : `not a HarmoniumError: ${String(err)}`;
  }
  return undefined;
}

describe('AIS schedule and base rate', () => {
  it('lays out betas in the paper shape: 0 to 1, increasing, 1e-3 / 1e-4 / 1e-5 apart at 14,501', () => {
    assert.deepEqual(Array.from(betaSchedule(2)), [0, 1]);
    const s = betaSchedule(14501);
    assert.equal(s[0], 0);
    assert.equal(s[14500], 1);
    for (let i = 1; i < s.length; i++) assert.ok(s[i]! > s[i - 1]!, `beta ${i}`);
    assert.ok(Math.abs(s[500]! - 0.5) < 1e-12 && Math.abs(s[4500]! - 0.9) < 1e-12);
    assert.ok(Math.abs(s[1]! - 1e-3) < 1e-12);
    assert.ok(Math.abs(s[4001]! - s[4000]! - 1e-4) < 1e-12);
    assert.ok(Math.abs(s[14000]! - s[13999]! - 1e-5) < 1e-12);
    // Other counts keep the proportions: a third of the points below 0.5 ... by the same knots.
    const t = betaSchedule(1451);
    assert.ok(Math.abs(t[50]! - 0.5) < 1e-12 && Math.abs(t[450]! - 0.9) < 1e-12);
  });

  it('base rate: log(p / (1 - p)) of the pixels above 0.5, clipped away from 0 and 1', () => {
    // 4 images of 3 pixels: pixel 0 on in 1 of 4, pixel 1 never (0.5 is not above 0.5), pixel 2 always.
    const data = Float32Array.of(0.9, 0.5, 1, 0.1, 0.2, 0.6, 0, 0.4, 0.51, 0.3, 0, 0.99);
    const b = baseRateBias(data, 4, 3);
    assert.ok(Math.abs(b[0]! - Math.log(0.25 / 0.75)) < 1e-6);
    assert.ok(Math.abs(b[1]! - Math.log(BASE_RATE_CLIP / (1 - BASE_RATE_CLIP))) < 1e-5);
    assert.ok(Math.abs(b[2]! + b[1]!) < 1e-5);
  });
});

describe('AIS log partition', () => {
  // 20 visible x 10 hidden: 2^10 hidden states, so exactLogPartition gives the truth.
  const rbm = randomRbm(20, 10, 1, 0.5);
  const exact = exactLogPartition(rbm);
  const uniformBase = new Float32Array(20);
  const ais = (betas: number, seed: number) =>
    aisLogPartition(rbm, { baseVisibleBias: uniformBase, betas, runs: 100, rng: new Rng(seed) });

  it('matches the exact log Z of a 20 x 10 RBM within 3 sd', () => {
    // 5,000 betas and 100 runs give sd ~0.007 nats here. The estimate is log(mean w), whose sd
    // the delta method gives; an AIS run too short for the model would show as a log Z below the
    // truth by more than that spread (measured: -0.9 nats at 10 betas, sd 0.25).
    const r = ais(5000, 1);
    assert.equal(r.logWeights.length, 100);
    assert.ok(r.sd > 0 && r.sd < 0.02, `sd ${r.sd}`);
    assert.ok(Math.abs(r.logZ - exact) < 3 * r.sd, `AIS ${r.logZ} vs exact ${exact}, sd ${r.sd}`);
  });

  it('gets closer to the exact value with more betas (mean over 3 seeds)', () => {
    const error = (betas: number) => {
      let err = 0;
      let sd = 0;
      for (const seed of [11, 12, 13]) {
        const r = ais(betas, seed);
        err += Math.abs(r.logZ - exact) / 3;
        sd += r.sd / 3;
      }
      return { err, sd };
    };
    const few = error(100);
    const many = error(5000);
    assert.ok(many.err < few.err / 2, `|error| ${few.err} at 100 betas, ${many.err} at 5,000`);
    assert.ok(many.sd < few.sd / 2, `sd ${few.sd} at 100 betas, ${many.sd} at 5,000`);
  });

  it('is exact for zero weights with the base at the visible bias: every run has the same weight', () => {
    const zero: RbmWeights = { ...rbm, w: new Float32Array(rbm.w.length) };
    let truth = 0;
    for (const a of zero.visibleBias) truth += softplus(a);
    for (const c of zero.hiddenBias) truth += softplus(c);
    const r = aisLogPartition(zero, {
      baseVisibleBias: zero.visibleBias,
      betas: 200,
      runs: 10,
      rng: new Rng(3),
    });
    // Equal up to float32 rounding (the native kernels round a vector body and a scalar tail apart).
    assert.ok(r.logWeights.every((l) => Math.abs(l - r.logWeights[0]!) < 1e-5));
    assert.ok(r.sd < 1e-6, `sd ${r.sd}`);
    assert.ok(Math.abs(r.logZ - truth) < 1e-4, `${r.logZ} vs ${truth}`);
    assert.ok(Math.abs(exactLogPartition(zero) - truth) < 1e-4);
  });

  it('is deterministic for a seed, and leaks no tensors', () => {
    const before = tf.memory().numTensors;
    const a = ais(300, 7);
    assert.equal(tf.memory().numTensors, before);
    assert.deepEqual(ais(300, 7), a);
    assert.notDeepEqual(ais(300, 8).logWeights, a.logWeights);
    // One run: a log Z but no spread.
    const one = aisLogPartition(rbm, { baseVisibleBias: uniformBase, betas: 50, runs: 1, rng: new Rng(1) });
    assert.ok(Number.isFinite(one.logZ) && Number.isNaN(one.sd));
  });

  it('refuses bad options with stable codes', () => {
    const opts = { baseVisibleBias: uniformBase, betas: 10, runs: 4, rng: new Rng(1) };
    assert.equal(
      codeOf(() => aisLogPartition(rbm, { ...opts, betas: 1 })),
      'CONFIG_INVALID',
    );
    assert.equal(
      codeOf(() => aisLogPartition(rbm, { ...opts, betas: 2.5 })),
      'CONFIG_INVALID',
    );
    assert.equal(
      codeOf(() => aisLogPartition(rbm, { ...opts, runs: 0 })),
      'CONFIG_INVALID',
    );
    assert.equal(
      codeOf(() => aisLogPartition(rbm, { ...opts, baseVisibleBias: new Float32Array(19) })),
      'MODEL_INVALID',
    );
    assert.equal(
      codeOf(() => aisLogPartition({ ...rbm, hiddenBias: new Float32Array(9) }, opts)),
      'MODEL_INVALID',
    );
    assert.equal(
      codeOf(() => baseRateBias(new Float32Array(0), 0, 20)),
      'MODEL_INVALID',
    );
    assert.equal(
      codeOf(() => baseRateBias(new Float32Array(30), 2, 20)),
      'MODEL_INVALID',
    );
  });
});
