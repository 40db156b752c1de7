import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { selectBackend } from '../compute/backend.js';
import { tf } from '../compute/tf.js';
import { Rng } from '../data/rng.js';
import { createOptimizer } from '../train/create-optimizer.js';
import { createGan, type Gan } from './gan.js';
import type { Model } from './model.js';
import { ganSliceChecks, paramValues, perturb } from './testing.js';

before(async () => {
  await selectBackend('native', { threads: 1 });
});

const sigmoid = (v: number): number => 1 / (1 + Math.exp(-v));
const softplus = (v: number): number => Math.max(v, 0) + Math.log1p(Math.exp(-Math.abs(v)));
const mean = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

/** x W + b for one vector x, W row-major in x out. */
function affine(x: readonly number[], w: Float64Array, b: Float64Array): number[] {
  const out = Array.from(b);
  x.forEach((xi, i) => {
    for (let j = 0; j < out.length; j++) out[j]! += xi * w[i * out.length + j]!;
  });
  return out;
}

/** Dense layers `${prefix}fc{i}` in float64: `hidden` on all but the last, `last` on that. */
function mlp(
  model: Gan,
  params: Float32Array,
  prefix: string,
  x: readonly number[],
  hidden: (v: number) => number,
  last: (v: number) => number,
): number[] {
  const layers = model.paramSpecs.filter((s) => s.name.startsWith(prefix)).length / 2;
  let h = [...x];
  for (let i = 0; i < layers; i++) {
    const a = affine(
      h,
      paramValues(model, params, `${prefix}fc${i}.w`),
      paramValues(model, params, `${prefix}fc${i}.b`),
    );
    h = a.map(i === layers - 1 ? last : hidden);
  }
  return h;
}

/** Rows of a flat batch. */
function rows(values: Float32Array, count: number, size: number): number[][] {
  return Array.from({ length: count }, (_, n) => Array.from(values.subarray(n * size, (n + 1) * size)));
}

/** Tiny images (side x side) that are each one of two fixed patterns: left half on, or top half on. */
const patterns = (side: number): Float32Array[] =>
  [(_: number, c: number) => c < side / 2, (r: number) => r < side / 2].map((on) => {
    const p = new Float32Array(side * side);
    for (let r = 0; r < side; r++) for (let c = 0; c < side; c++) p[r * side + c] = on(r, c) ? 0.95 : 0.05;
    return p;
  });

/** RMS distance of each sample to its nearest pattern, averaged over the samples. */
function nearestPatternDistance(
  samples: Float32Array,
  count: number,
  fixed: readonly Float32Array[],
): number {
  const size = fixed[0]!.length;
  let total = 0;
  for (let n = 0; n < count; n++) {
    const s = samples.subarray(n * size, (n + 1) * size);
    const d = fixed.map((p) => Math.sqrt(p.reduce((acc, v, i) => acc + (v - s[i]!) ** 2, 0) / size));
    total += Math.min(...d);
  }
  return total / count;
}

describe('gan architecture', () => {
  it('puts G (latent -> 256 -> 512 -> image) then D (image -> 512 -> 256 -> 1) in one buffer', () => {
    const model = createGan(784, {});
    assert.equal(model.kind, 'gan');
    assert.equal(model.codeSize, 100);
    assert.deepEqual(
      model.paramSpecs.map((s) => [s.name, s.shape]),
      [
        ['g.fc0.w', [100, 256]],
        ['g.fc0.b', [256]],
        ['g.fc1.w', [256, 512]],
        ['g.fc1.b', [512]],
        ['g.fc2.w', [512, 784]],
        ['g.fc2.b', [784]],
        ['d.fc0.w', [784, 512]],
        ['d.fc0.b', [512]],
        ['d.fc1.w', [512, 256]],
        ['d.fc1.b', [256]],
        ['d.fc2.w', [256, 1]],
        ['d.fc2.b', [1]],
      ],
    );
    assert.deepEqual(model.paramSpecs, [...model.generatorSpecs, ...model.discriminatorSpecs]);
    assert.deepEqual(model.hyper, { latent: 100, 'g-layers': [256, 512], 'd-layers': [512, 256] });
    const generic: Model = model;
    assert.equal(generic.encode, undefined);
    assert.equal(generic.reconstruct, undefined);
  });
});

describe('gan computation', () => {
  it('matches a float64 reference: loss L_D, extras L_G (non-saturating), D(x) and D(G(z))', () => {
    const model = createGan(6, { latent: 3, 'g-layers': [5], 'd-layers': [4, 3] });
    const params = perturb(model.init(new Rng(1)), 2, 0.1);
    const n = 4;
    const batch = new Rng(3).fillUniform(new Float32Array(n * 6));
    const r = model.step(params, batch, n, new Rng(4));
    // The step draws z (n x latent) first from its Rng.
    const z = rows(new Rng(4).fillNormal(new Float32Array(n * 3)), n, 3);
    const fakes = z.map((zi) => mlp(model, params, 'g.', zi, (v) => Math.max(v, 0), sigmoid));
    const d = (x: number[]): number =>
      mlp(
        model,
        params,
        'd.',
        x,
        (v) => (v > 0 ? v : 0.2 * v),
        (v) => v,
      )[0]!;
    const real = rows(batch, n, 6).map(d);
    const fake = fakes.map(d);
    const dLoss = mean(real.map((l) => softplus(-l))) + mean(fake.map(softplus));
    const gLoss = mean(fake.map((l) => softplus(-l)));
    const close = (a: number, b: number, what: string): void =>
      assert.ok(Math.abs(a - b) < 1e-5, `${what}: ${a} vs ${b}`);
    close(r.loss, dLoss, 'loss');
    close(r.extras!['d_loss']!, dLoss, 'd_loss');
    close(r.extras!['g_loss']!, gLoss, 'g_loss');
    close(r.extras!['d_real']!, mean(real.map(sigmoid)), 'd_real');
    close(r.extras!['d_fake']!, mean(fake.map(sigmoid)), 'd_fake');
    const decoded = model.decode(params, Float32Array.from(z.flat()), n);
    decoded.forEach((v, i) => close(v, fakes[Math.floor(i / 6)]![i % 6]!, `decode[${i}]`));
  });

  it('writes dL_G/dG into the g. slice and dL_D/dD into the d. slice (finite differences)', () => {
    const model = createGan(6, { latent: 3, 'g-layers': [5, 4], 'd-layers': [4, 3] });
    const params = perturb(model.init(new Rng(5)), 6, 0.1);
    const n = 5;
    const batch = new Rng(7).fillUniform(new Float32Array(n * 6));
    for (const { what, size, check } of ganSliceChecks(model, params, batch, n, 8, 1e-3)) {
      assert.ok(check.worstRatio <= 1 && check.kinks <= size / 4, `${what}: ${JSON.stringify(check)}`);
    }
  });

  it('is deterministic given the Rng, uses it for z, and leaks no tensors', () => {
    const model = createGan(16, { latent: 4, 'g-layers': [8], 'd-layers': [8] });
    const params = model.init(new Rng(1));
    const batch = new Rng(2).fillUniform(new Float32Array(3 * 16));
    const before = tf.memory().numTensors;
    const a = model.step(params, batch, 3, new Rng(9));
    const b = model.step(params, batch, 3, new Rng(9));
    const c = model.step(params, batch, 3, new Rng(10));
    assert.equal(tf.memory().numTensors, before);
    assert.deepEqual(a, b);
    assert.notDeepEqual(a.grads, c.grads);
    assert.ok(a.grads.every(Number.isFinite) && a.grads.some((g) => g !== 0));
    // D's real term does not depend on z, so only the fake terms may differ.
    assert.notEqual(a.extras!['d_fake'], c.extras!['d_fake']);
    assert.equal(a.extras!['d_real'], c.extras!['d_real']);
  });

  it('samples G(z) for z ~ N(0, I) from the Rng: decode of the same prior codes, in (0, 1)', () => {
    const model = createGan(16, { latent: 4, 'g-layers': [8], 'd-layers': [8] });
    const params = perturb(model.init(new Rng(1)), 2, 0.5);
    const samples = model.sample(params, 7, new Rng(3));
    assert.equal(samples.length, 7 * 16);
    assert.ok(samples.every((v) => v > 0 && v < 1));
    const codes = new Rng(3).fillNormal(new Float32Array(7 * 4));
    assert.deepEqual(model.priorCodes(7, new Rng(3)), codes);
    assert.deepEqual(model.decode(params, codes, 7), samples);
    assert.notDeepEqual(model.sample(params, 7, new Rng(4)), samples);
  });
});

describe('gan training', () => {
  it('learns two fixed 4x4 patterns with Adam (beta1 0.5): samples move to the nearest pattern', () => {
    const side = 4;
    const fixed = patterns(side);
    const model = createGan(side * side, { latent: 4, 'g-layers': [32], 'd-layers': [32] });
    const params = model.init(new Rng(1));
    const probe = (): number => nearestPatternDistance(model.sample(params, 200, new Rng(99)), 200, fixed);
    const start = probe();
    // GAN training oscillates: average the distance over the last few hundred steps.
    const late: number[] = [];
    const opt = createOptimizer({ optimizer: 'adam', beta1: 0.5 }, params.length);
    const grads = new Float32Array(params.length);
    const data = new Rng(2);
    const n = 32;
    const batch = new Float32Array(n * side * side);
    for (let s = 1; s <= 600; s++) {
      for (let i = 0; i < n; i++) batch.set(fixed[data.int(2)]!, i * side * side);
      model.step(params, batch, n, new Rng(1000 + s), grads);
      opt.step(params, grads, 2e-3);
      if (s >= 400 && s % 50 === 0) late.push(probe());
    }
    const end = mean(late);
    assert.ok(
      start > 0.35 && end < 0.35 * start,
      `nearest-pattern RMS distance ${start} -> ${late.join(', ')}`,
    );
  });
});
