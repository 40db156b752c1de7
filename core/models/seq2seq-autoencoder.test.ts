import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { selectBackend } from '../compute/backend.js';
import { tf } from '../compute/tf.js';
import { Rng } from '../data/rng.js';
import { ConfigError } from '../errors.js';
import { createOptimizer } from '../train/create-optimizer.js';
import type { HyperValues } from './hyper.js';
import { flatLength, paramOffsets } from './model.js';
import { findModel } from './registry.js';
import { createSeq2SeqAutoencoder } from './seq2seq-autoencoder.js';
import type { Seq2SeqAutoencoder } from './seq2seq-autoencoder.js';
import { barsImages, checkGradient } from './testing.js';

before(async () => {
  await selectBackend('native', { threads: 1 });
});

/** A named parameter of the flat buffer, as a float64 row-major array. */
function param(model: Seq2SeqAutoencoder, params: Float32Array, name: string): Float64Array {
  const { offset, size } = paramOffsets(model.paramSpecs).get(name)!;
  return Float64Array.from(params.subarray(offset, offset + size));
}

const sigmoid = (v: number): number => 1 / (1 + Math.exp(-v));

/** x W + b for one vector x, W row-major in x out. */
function affine(x: readonly number[], w: Float64Array, b: Float64Array): number[] {
  const out = Array.from(b);
  x.forEach((xi, i) => {
    for (let j = 0; j < out.length; j++) out[j]! += xi * w[i * out.length + j]!;
  });
  return out;
}

/** One LSTM step, gates i, f, g, o from [x, h] W + b, in float64. */
function lstm(
  x: readonly number[],
  h: readonly number[],
  c: readonly number[],
  w: Float64Array,
  b: Float64Array,
): { h: number[]; c: number[] } {
  const u = h.length;
  const z = affine([...x, ...h], w, b);
  const cNext = c.map((cj, j) => sigmoid(z[u + j]!) * cj + sigmoid(z[j]!) * Math.tanh(z[2 * u + j]!));
  return { h: cNext.map((cj, j) => sigmoid(z[3 * u + j]!) * Math.tanh(cj)), c: cNext };
}

/**
 * The model written out in float64 for one image: rows as steps, the encoder's last h to a linear
 * code, the decoder from tanh(dense(code)) states fed the code at every step, a sigmoid row each.
 */
function reference(
  model: Seq2SeqAutoencoder,
  params: Float32Array,
  image: Float32Array,
): { code: number[]; output: number[] } {
  const get = (name: string): Float64Array => param(model, params, name);
  const hidden = model.hyper['hidden'] as number;
  let h = new Array<number>(hidden).fill(0);
  let c = new Array<number>(hidden).fill(0);
  for (let t = 0; t < model.side; t++) {
    const row = Array.from(image.subarray(t * model.rowSize, (t + 1) * model.rowSize));
    ({ h, c } = lstm(row, h, c, get('enc.w'), get('enc.b')));
  }
  const code = affine(h, get('code.w'), get('code.b'));
  h = affine(code, get('h0.w'), get('h0.b')).map(Math.tanh);
  c = affine(code, get('c0.w'), get('c0.b')).map(Math.tanh);
  const output: number[] = [];
  for (let t = 0; t < model.side; t++) {
    ({ h, c } = lstm(code, h, c, get('dec.w'), get('dec.b')));
    output.push(...affine(h, get('out.w'), get('out.b')).map(sigmoid));
  }
  return { code, output };
}

/** Adds small noise to every parameter, so that biases and all gates are exercised away from init. */
function perturb(params: Float32Array, seed: number, scale: number): Float32Array {
  const noise = new Rng(seed).fillNormal(new Float32Array(params.length), 0, scale);
  for (let i = 0; i < params.length; i++) params[i] = params[i]! + noise[i]!;
  return params;
}

describe('seq2seq-ae architecture', () => {
  it('reads 28x28 images as 28 rows of 28: LSTM 128, code 32 by default', () => {
    const model = findModel('seq2seq-ae').create(784, {}) as Seq2SeqAutoencoder;
    assert.equal(model.kind, 'seq2seq-ae');
    assert.equal(model.side, 28);
    assert.equal(model.rowSize, 28);
    assert.equal(model.codeSize, 32);
    assert.deepEqual(
      model.paramSpecs.map((s) => [s.name, s.shape]),
      [
        ['enc.w', [28 + 128, 512]],
        ['enc.b', [512]],
        ['code.w', [128, 32]],
        ['code.b', [32]],
        ['h0.w', [32, 128]],
        ['h0.b', [128]],
        ['c0.w', [32, 128]],
        ['c0.b', [128]],
        ['dec.w', [32 + 128, 512]],
        ['dec.b', [512]],
        ['out.w', [128, 28]],
        ['out.b', [28]],
      ],
    );
    assert.equal(flatLength(model.paramSpecs), 179004);
    assert.deepEqual(model.hyper, { hidden: 128, code: 32, channels: 1, loss: 'cross-entropy' });
    assert.deepEqual(findModel('seq2seq-ae').training, {
      optimizer: 'adam',
      lr: 1e-3,
      momentum: 0,
      finalMomentum: 0,
      momentumSwitchEpoch: 0,
    });
  });

  it('initialises weights Glorot-uniform, forget-gate biases at 1 and other biases at 0', () => {
    const model = createSeq2SeqAutoencoder(784, {});
    const params = model.init(new Rng(1));
    for (const s of model.paramSpecs) {
      const v = param(model, params, s.name);
      if (s.shape.length === 1) {
        const forget = s.name === 'enc.b' || s.name === 'dec.b';
        v.forEach((x, i) => assert.equal(x, forget && i >= 128 && i < 256 ? 1 : 0, `${s.name}[${i}]`));
        continue;
      }
      const r = Math.sqrt(6 / (s.shape[0]! + s.shape[1]!));
      const maxAbs = v.reduce((m, x) => Math.max(m, Math.abs(x)), 0);
      assert.ok(maxAbs <= r && maxAbs > 0.9 * r, `${s.name}: max |w| ${maxAbs} vs bound ${r}`);
    }
  });

  it('folds channels into the row: 8x8x3 images are 8 steps of 24 values', () => {
    const model = createSeq2SeqAutoencoder(8 * 8 * 3, { channels: 3, hidden: 5, code: 4 });
    assert.equal(model.side, 8);
    assert.equal(model.rowSize, 24);
    assert.deepEqual(model.paramSpecs[0]!.shape, [24 + 5, 20]);
    assert.deepEqual(model.paramSpecs[11]!.shape, [24]);
  });

  it('rejects input sizes that are not a square image of the given channels', () => {
    const rejects = (inputSize: number, hyper: HyperValues, text: RegExp): void =>
      assert.throws(
        () => createSeq2SeqAutoencoder(inputSize, hyper),
        (err: unknown) => err instanceof ConfigError && err.field === 'channels' && text.test(err.message),
      );
    rejects(785, {}, /seq2seq-ae .*785 values per image is not 1 x side\^2/);
    rejects(28 * 30, {}, /840 values per image is not 1 x side\^2/);
    rejects(784, { channels: 3 }, /784 values per image is not 3 x side\^2/);
    assert.throws(() => createSeq2SeqAutoencoder(784, { hidden: 0 }), ConfigError);
    assert.throws(() => createSeq2SeqAutoencoder(784, { loss: 'hinge' }), ConfigError);
  });
});

describe('seq2seq-ae computation', () => {
  it('matches a float64 LSTM written out step by step (gates i, f, g, o; code fed to the decoder)', () => {
    for (const channels of [1, 2]) {
      const model = createSeq2SeqAutoencoder(5 * 5 * channels, { hidden: 3, code: 2, channels });
      const params = perturb(model.init(new Rng(1)), 2, 0.3);
      const n = 3;
      const batch = new Rng(3).fillUniform(new Float32Array(n * model.inputSize));
      const codes = model.encode(params, batch, n);
      const rec = model.reconstruct(params, batch, n);
      const decoded = model.decode(params, codes, n);
      let bce = 0;
      let sse = 0;
      for (let k = 0; k < n; k++) {
        const image = batch.subarray(k * model.inputSize, (k + 1) * model.inputSize);
        const ref = reference(model, params, image);
        ref.code.forEach((v, j) => assert.ok(Math.abs(codes[k * 2 + j]! - v) < 1e-5, `code ${k},${j}`));
        ref.output.forEach((v, i) => {
          assert.ok(Math.abs(rec[k * model.inputSize + i]! - v) < 1e-5, `pixel ${k},${i}`);
          assert.ok(Math.abs(decoded[k * model.inputSize + i]! - v) < 1e-5, `decoded ${k},${i}`);
          bce -= image[i]! * Math.log(v) + (1 - image[i]!) * Math.log(1 - v);
          sse += (v - image[i]!) ** 2;
        });
      }
      // Per image summed over pixels, mean over the batch.
      const { loss } = model.step(params, batch, n, new Rng(0));
      assert.ok(Math.abs(loss - bce / n) < 1e-4, `${loss} vs ${bce / n}`);
      const mse = createSeq2SeqAutoencoder(model.inputSize, { hidden: 3, code: 2, channels, loss: 'mse' });
      const mseLoss = mse.step(params, batch, n, new Rng(0)).loss;
      assert.ok(Math.abs(mseLoss - sse / n) < 1e-5, `${mseLoss} vs ${sse / n}`);
      assert.ok(Math.abs(model.evaluate(params, batch, n)['reconstruction_loss']! - bce) < 1e-3);
    }
  });

  it('encodes, decodes and reconstructs with the right shapes and ranges, leaking no tensors', () => {
    const model = createSeq2SeqAutoencoder(784, {});
    const params = model.init(new Rng(3));
    const n = 3;
    const batch = barsImages(28, n, new Rng(4));
    const before = tf.memory().numTensors;
    const codes = model.encode(params, batch, n);
    assert.equal(codes.length, n * 32);
    assert.ok(codes.every(Number.isFinite));
    assert.ok(codes.some((v) => v !== 0));
    const decoded = model.decode(params, codes, n);
    const rec = model.reconstruct(params, batch, n);
    assert.equal(decoded.length, n * 784);
    assert.equal(rec.length, n * 784);
    assert.ok(rec.every((v) => v > 0 && v < 1));
    assert.deepEqual(rec, decoded);
    const r = model.step(params, batch, n, new Rng(5));
    assert.equal(r.grads.length, params.length);
    assert.ok(Number.isFinite(r.loss) && r.loss > 0);
    assert.ok(r.grads.every(Number.isFinite));
    model.evaluate(params, batch, n);
    assert.equal(tf.memory().numTensors, before);
  });

  it('writes the gradient into `out` when given one', () => {
    const model = createSeq2SeqAutoencoder(36, { hidden: 4, code: 3 });
    const params = model.init(new Rng(1));
    const batch = new Rng(2).fillUniform(new Float32Array(2 * 36));
    const fresh = model.step(params, batch, 2, new Rng(3));
    const out = new Float32Array(params.length).fill(NaN);
    const r = model.step(params, batch, 2, new Rng(3), out);
    assert.equal(r.grads, out);
    assert.deepEqual(out, fresh.grads);
    assert.equal(r.loss, fresh.loss);
    assert.throws(() => model.step(params, batch, 2, new Rng(3), new Float32Array(3)), RangeError);
  });
});

describe('seq2seq-ae gradients (finite differences through time, float32)', () => {
  const cases: HyperValues[] = [
    { hidden: 3, code: 2 },
    { hidden: 3, code: 2, loss: 'mse' },
    { hidden: 2, code: 3, channels: 2 },
  ];
  for (const hyper of cases) {
    it(`4x4 images, ${JSON.stringify(hyper)}`, () => {
      const channels = (hyper['channels'] as number | undefined) ?? 1;
      const model = createSeq2SeqAutoencoder(16 * channels, hyper);
      const params = perturb(model.init(new Rng(1)), 9, 0.2);
      const batchSize = 2;
      const batch = new Rng(2).fillUniform(new Float32Array(batchSize * model.inputSize));
      const { grads } = model.step(params, batch, batchSize, new Rng(0));
      const loss = (p: Float32Array): number => model.step(p, batch, batchSize, new Rng(0)).loss;
      // Smooth everywhere (sigmoid, tanh, softplus): plain central differences apply. Checked over
      // 4 seeds per case: worst ratio 0.17, relative error at most 5e-4.
      const r = checkGradient(loss, params, grads, 1e-2);
      assert.ok(r.worstRatio <= 1, JSON.stringify(r));
      assert.ok(r.relativeError < 1e-2, JSON.stringify(r));
    });
  }
});

describe('seq2seq-ae training', () => {
  // The Bernoulli cross-entropy of these 0.1/0.9 images cannot fall below 64 * 0.325 = 20.8 nats;
  // from about 44.4 it reached 32-35 after 40 steps over 4 seeds.
  it('loss falls within 40 Adam steps on bar images', () => {
    const side = 8;
    const count = 32;
    const model = createSeq2SeqAutoencoder(side * side, { hidden: 16, code: 8 });
    const data = barsImages(side, count, new Rng(6));
    const params = model.init(new Rng(7));
    const opt = createOptimizer({ optimizer: 'adam' }, params.length);
    const grads = new Float32Array(params.length);
    const losses: number[] = [];
    for (let s = 0; s < 40; s++) {
      const { loss } = model.step(params, data, count, new Rng(s), grads);
      losses.push(loss);
      opt.step(params, grads, 1e-2);
    }
    const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
    const [first, last] = [mean(losses.slice(0, 5)), mean(losses.slice(-5))];
    assert.ok(last < 0.85 * first, `${first} -> ${last}`);
  });
});
