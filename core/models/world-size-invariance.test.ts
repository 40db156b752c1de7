/**
 * Data-parallel training splits the global batch into contiguous shares, one per worker, and
 * averages the shares' steps weighted by count / batch. With per-sample noise (SampleNoise) every
 * model but the DCGAN must then give the single-worker step on the whole batch, to float rounding,
 * whatever the split: here rows [0, 3), [3, 7), [7, 10) of a batch of 10, each share on its own
 * model instance as on its own worker.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { selectBackend } from '../compute/backend.js';
import { Rng } from '../data/rng.js';
import { SampleNoise } from '../data/sample-noise.js';
import type { HyperValues } from './hyper.js';
import type { Model, StepResult } from './model.js';
import { MODEL_ENTRIES, findModel } from './registry.js';
import { perturb } from './testing.js';

before(async () => {
  await selectBackend('native', { threads: 1 });
});

const SEED = 20250611;
const STEP = 17;
const BATCH = 10;
const SHARES = [
  { first: 0, count: 3 },
  { first: 3, count: 4 },
  { first: 7, count: 3 },
] as const;

/**
 * Largest |whole - weighted sum of shares| allowed, relative to the largest |value| of the whole's
 * gradient (and to |loss| for the loss and the extras). The two differ only in float32 rounding:
 * the batch reductions (matMul over rows, means) add the rows in another order and the shares' sum
 * is formed in float64 from three rounded parts, which costs a few ulps (2^-24 = 6e-8) of the
 * largest term per reduction and backward layer; measured, the worst case is 8e-7 (conv-ae), most
 * are 1e-7. A share that drew other noise than the whole for its rows is off by 1e-2 to 1 of the
 * scale (measured with every share's noise starting at sample 0), as every stochastic case below
 * shows by changing the seed.
 */
const RTOL = 1e-5;

interface Case {
  /** Test name: the kind, plus what the hyperparameters select. */
  readonly name: string;
  readonly kind: string;
  readonly inputSize: number;
  readonly hyper: HyperValues;
  /** Whether the step in phase `phase` draws noise, so that another seed must change it. */
  readonly stochastic: (phase: number) => boolean;
}

const always = (): boolean => true;
const never = (): boolean => false;

/** Small nets; 8x8 images where any square does, 28x28 for the convolutional ones. */
const CASES: readonly Case[] = [
  { name: 'ae', kind: 'ae', inputSize: 64, hyper: { layers: [12, 4] }, stochastic: never },
  { name: 'sparse-ae', kind: 'sparse-ae', inputSize: 64, hyper: { layers: [16] }, stochastic: never },
  {
    name: 'denoising-ae masking',
    kind: 'denoising-ae',
    inputSize: 64,
    hyper: { layers: [12, 4], noise: 'masking', 'noise-rate': 0.3 },
    stochastic: always,
  },
  {
    name: 'denoising-ae gaussian',
    kind: 'denoising-ae',
    inputSize: 64,
    hyper: { layers: [12, 4], noise: 'gaussian', 'noise-rate': 0.2 },
    stochastic: always,
  },
  {
    name: 'contractive-ae',
    kind: 'contractive-ae',
    inputSize: 64,
    hyper: { layers: [8] },
    stochastic: never,
  },
  { name: 'conv-ae', kind: 'conv-ae', inputSize: 784, hyper: { filters: [4, 2] }, stochastic: never },
  {
    name: 'seq2seq-ae',
    kind: 'seq2seq-ae',
    inputSize: 64,
    hyper: { hidden: 6, code: 4 },
    stochastic: never,
  },
  {
    name: 'stacked-ae denoising',
    kind: 'stacked-ae',
    inputSize: 64,
    hyper: { layers: [12, 8, 4], noise: 0.3 },
    stochastic: always,
  },
  {
    name: 'deep-ae',
    kind: 'deep-ae',
    inputSize: 64,
    hyper: { layers: [12, 8], code: 4 },
    // Three CD-1 phases (the last with the linear code's Gaussian noise), then fine-tuning.
    stochastic: (phase) => phase < 3,
  },
  {
    name: 'vae',
    kind: 'vae',
    inputSize: 64,
    hyper: { layers: [12], latent: 3 },
    stochastic: always,
  },
  { name: 'rbm CD-2', kind: 'rbm', inputSize: 64, hyper: { hidden: 8, k: 2 }, stochastic: always },
  {
    name: 'rbm PCD-2',
    kind: 'rbm',
    inputSize: 64,
    hyper: { hidden: 8, k: 2, persistent: true },
    stochastic: always,
  },
  { name: 'dbn CD-2', kind: 'dbn', inputSize: 64, hyper: { layers: [8, 6], k: 2 }, stochastic: always },
  {
    name: 'gan',
    kind: 'gan',
    inputSize: 64,
    hyper: { latent: 4, 'g-layers': [8], 'd-layers': [8] },
    stochastic: always,
  },
];

/** A batch of BATCH deterministic images of `inputSize` values in [0, 1). */
function images(inputSize: number): Float32Array {
  return new Rng(5).fillUniform(new Float32Array(BATCH * inputSize));
}

/**
 * Initial parameters moved by N(0, 0.3^2): away from the symmetric start (RBM probabilities all
 * near 1/2, CD statistics that nearly cancel), where the gradient is small against the terms it is
 * a difference of and the comparison would measure that cancellation rather than the split.
 */
function parameters(c: Case): Float32Array {
  return perturb(build(c, 0).init(new Rng(3)), 4, 0.3);
}

/** A fresh instance of the case's model, in `phase` when it has phases. */
function build(c: { kind: string; inputSize: number; hyper: HyperValues }, phase: number): Model {
  const model = findModel(c.kind).create(c.inputSize, c.hyper);
  if (model.setPhase) model.setPhase(phase);
  return model;
}

/** The step on rows [first, first + count) of the batch, drawing those rows' noise. */
function shareStep(
  model: Model,
  params: Float32Array,
  batch: Float32Array,
  share: { readonly first: number; readonly count: number },
  step = STEP,
  seed = SEED,
): StepResult {
  const n = model.inputSize;
  const rows = batch.subarray(share.first * n, (share.first + share.count) * n);
  const r = model.step(params, rows, share.count, new SampleNoise(seed, step, share.first, share.count));
  return { loss: r.loss, grads: Float32Array.from(r.grads), ...(r.extras ? { extras: r.extras } : {}) };
}

/** How far the shares' weighted sum is from the whole batch's step, each figure over its own scale. */
interface Gap {
  /** max |whole - sum| over the gradient, over max |whole|. */
  readonly grads: number;
  readonly loss: number;
  /** The worst extra, each over its own |whole value|. */
  readonly extras: number;
}

/** max |whole - other| over max |whole|. */
function gradientGap(whole: Float32Array, other: ArrayLike<number>): number {
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < whole.length; i++) {
    diff = Math.max(diff, Math.abs(whole[i]! - other[i]!));
    scale = Math.max(scale, Math.abs(whole[i]!));
  }
  assert.ok(scale > 0, 'a gradient that is not all zeros');
  return diff / scale;
}

/** Relative difference, with a floor so that a figure that is 0 in both does not divide by 0. */
function relative(a: number, b: number): number {
  return Math.abs(a - b) / Math.max(Math.abs(a), 1e-6);
}

function gap(whole: StepResult, parts: readonly StepResult[]): Gap {
  const sum = new Float64Array(whole.grads.length);
  let loss = 0;
  const extras: Record<string, number> = {};
  parts.forEach((p, j) => {
    const w = SHARES[j]!.count / BATCH;
    for (let i = 0; i < sum.length; i++) sum[i] = sum[i]! + w * p.grads[i]!;
    loss += w * p.loss;
    for (const [k, v] of Object.entries(p.extras ?? {})) extras[k] = (extras[k] ?? 0) + w * v;
  });
  assert.deepEqual(Object.keys(extras).sort(), Object.keys(whole.extras ?? {}).sort(), 'extras');
  let worstExtra = 0;
  for (const [k, v] of Object.entries(whole.extras ?? {})) {
    worstExtra = Math.max(worstExtra, relative(v, extras[k]!));
  }
  return { grads: gradientGap(whole.grads, sum), loss: relative(whole.loss, loss), extras: worstExtra };
}

/** The whole batch's step and the shares' steps, each share on its own fresh model instance. */
function splitSteps(
  c: Case,
  phase: number,
  params: Float32Array,
  batch: Float32Array,
): { whole: StepResult; parts: StepResult[] } {
  const whole = shareStep(build(c, phase), params, batch, { first: 0, count: BATCH });
  const parts = SHARES.map((s) => shareStep(build(c, phase), params, batch, s));
  return { whole, parts };
}

const fmt = (x: number): string => x.toExponential(1);

describe('world-size invariance of a step with per-sample noise', () => {
  it('covers every registered model kind', () => {
    // dcgan has its own case below.
    const covered = new Set([...CASES.map((c) => c.kind), 'dcgan']);
    assert.deepEqual(
      MODEL_ENTRIES.map((e) => e.kind).filter((k) => !covered.has(k)),
      [],
    );
  });

  for (const c of CASES) {
    it(`${c.name}: the shares' weighted sum is the whole batch's step, in every phase`, (t) => {
      const phases = build(c, 0).phases?.length ?? 1;
      const params = parameters(c);
      const batch = images(c.inputSize);
      for (let phase = 0; phase < phases; phase++) {
        const { whole, parts } = splitSteps(c, phase, params, batch);
        const g = gap(whole, parts);
        t.diagnostic(
          `phase ${phase}: grads ${fmt(g.grads)}, loss ${fmt(g.loss)}, extras ${fmt(g.extras)} (relative)`,
        );
        assert.ok(g.grads <= RTOL, `phase ${phase}: gradient off by ${g.grads} of its scale`);
        assert.ok(g.loss <= RTOL, `phase ${phase}: loss off by ${g.loss}`);
        assert.ok(g.extras <= RTOL, `phase ${phase}: extras off by ${g.extras}`);
        if (c.stochastic(phase)) {
          // Not vacuous: the noise moves the step by far more than the tolerance.
          const other = shareStep(build(c, phase), params, batch, { first: 0, count: BATCH }, STEP, SEED + 1);
          assert.ok(
            gradientGap(whole.grads, other.grads) > 1e3 * RTOL,
            `phase ${phase}: another seed barely changes the step`,
          );
        }
      }
    });
  }

  it("rbm PCD: the shares' fantasy particles are the whole batch's rows, after one and two steps", () => {
    const c = CASES.find((x) => x.name === 'rbm PCD-2')!;
    const n = c.inputSize;
    const params = parameters(c);
    const batch = images(n);
    const whole = build(c, 0);
    const parts = SHARES.map(() => build(c, 0));
    const particles = (m: Model): Float32Array => {
      const state = m.saveState?.();
      assert.ok(state, 'PCD keeps fantasy particles');
      return state;
    };
    const concat = (models: readonly Model[]): number[] => models.flatMap((m) => [...particles(m)]);
    for (const step of [STEP, STEP + 1]) {
      const w = shareStep(whole, params, batch, { first: 0, count: BATCH }, step);
      const p = parts.map((m, j) => shareStep(m, params, batch, SHARES[j]!, step));
      assert.ok(gap(w, p).grads <= RTOL, `step ${step}`);
      assert.deepEqual(concat(parts), [...particles(whole)], `particles after step ${step}`);
    }
    // Workers resuming from the whole's particles, each loading its rows, continue as one.
    const state = particles(whole);
    const resumed = SHARES.map((s) => {
      const m = build(c, 0);
      m.loadState!(state.slice(s.first * n, (s.first + s.count) * n));
      return m;
    });
    const w = shareStep(whole, params, batch, { first: 0, count: BATCH }, STEP + 2);
    const p = resumed.map((m, j) => shareStep(m, params, batch, SHARES[j]!, STEP + 2));
    assert.ok(gap(w, p).grads <= RTOL, 'after resuming');
    assert.deepEqual(concat(resumed), [...particles(whole)], 'particles after resuming');
  });

  it('dcgan is not invariant: batch norm normalises each share over its own rows', (t) => {
    // G's and D's batch norm use the mean and variance of the batch they see (batch-norm.ts), as
    // PyTorch's DistributedDataParallel does without SyncBatchNorm: a share of 3 images is
    // normalised by other statistics than the batch of 10, so each image's loss term, and with it
    // the step, depends on which rows share its worker. Only the noise is split consistently.
    const c = { kind: 'dcgan', inputSize: 784, hyper: { latent: 4, filters: 2, kernel: 4 } };
    const model = build(c, 0);
    const params = model.init(new Rng(3));
    const batch = images(c.inputSize);
    const whole = shareStep(model, params, batch, { first: 0, count: BATCH });
    const parts = SHARES.map((s) => shareStep(build(c, 0), params, batch, s));
    const g = gap(whole, parts);
    t.diagnostic(`grads ${fmt(g.grads)}, loss ${fmt(g.loss)}, extras ${fmt(g.extras)} (relative)`);
    assert.ok(g.grads > 1e3 * RTOL, `the split moved the gradient by only ${g.grads} of its scale`);
  });
});
