import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { selectBackend } from '../compute/backend.js';
import { nativeAddon } from '../compute/native-addon.js';
import { limitSet } from '../data/corpus.js';
import { loadFashionMnist } from '../data/fashion-mnist.js';
import { tf } from '../compute/tf.js';
import type { ImageSet } from '../data/corpus.js';
import { gatherBatch } from '../data/corpus.js';
import { Rng } from '../data/rng.js';
import { ConfigError, DataError } from '../errors.js';
import { rangeIndices } from './batches.js';
import { trainFeatureClassifier } from './feature-classifier.js';

const SIDE = 8;
const CLASSES = 4;

/**
 * `count` 8x8 images, class c a bright bar on rows 2c and 2c+1 over uniform noise in [0, 0.6]:
 * separable, but not by any single pixel.
 */
function bars(count: number, seed: number): ImageSet {
  const rng = new Rng(seed);
  const d = SIDE * SIDE;
  const pixels = new Uint8Array(count * d);
  const labels = new Uint8Array(count);
  for (let i = 0; i < count; i++) {
    const c = rng.int(CLASSES);
    labels[i] = c;
    for (let j = 0; j < d; j++) {
      const row = Math.floor(j / SIDE);
      const bar = row === 2 * c || row === 2 * c + 1;
      pixels[i * d + j] = Math.round(255 * (bar ? 0.5 + 0.5 * rng.uniform() : 0.6 * rng.uniform()));
    }
  }
  return { name: `bars-${seed}`, shape: { height: SIDE, width: SIDE, channels: 1 }, count, pixels, labels };
}

const SMALL = { hidden: [16, 8], epochs: 4, batchSize: 32 } as const;

/** The classifier's network in float64 from its layers: features and probabilities of one image. */
function reference(
  layers: ReturnType<typeof trainFeatureClassifier>['layers'],
  x: Float32Array,
): { features: number[]; probs: number[] } {
  let h: number[] = Array.from(x);
  let features: number[] = [];
  layers.forEach((l, i) => {
    const out: number[] = [];
    for (let o = 0; o < l.outputs; o++) {
      let s = l.bias[o]!;
      for (let k = 0; k < l.inputs; k++) s += h[k]! * l.weight[k * l.outputs + o]!;
      out.push(i + 1 < layers.length ? Math.max(0, s) : s);
    }
    if (i + 1 === layers.length - 1) features = out;
    h = out;
  });
  const m = Math.max(...h);
  const z = h.reduce((a, v) => a + Math.exp(v - m), 0);
  return { features, probs: h.map((v) => Math.exp(v - m) / z) };
}

before(async () => {
  await selectBackend('native', { threads: 1 });
});

describe('trainFeatureClassifier', () => {
  const train = bars(800, 1);
  const test = bars(400, 2);

  it('learns separable classes and describes itself', () => {
    const c = trainFeatureClassifier(train, SMALL);
    assert.ok(c.accuracy(test) >= 0.95, `test accuracy ${c.accuracy(test)}`);
    assert.equal(c.inputSize, 64);
    assert.equal(c.featureSize, 8);
    assert.equal(c.classes, CLASSES);
    assert.equal(c.describe, 'MLP 64-16-8-4 (ReLU, Adam), 4 epochs on 800 bars-1 images');
  });

  it('is the same classifier every time: its seed is its own', () => {
    const a = trainFeatureClassifier(train, SMALL);
    const b = trainFeatureClassifier(train, SMALL);
    a.layers.forEach((l, i) => {
      assert.deepEqual(l.weight, b.layers[i]!.weight);
      assert.deepEqual(l.bias, b.layers[i]!.bias);
    });
  });

  it('is the same classifier at any thread count, and leaves the thread count as it was', async () => {
    // Big enough for OpenBLAS and the kernel pool to split the work (they did, before training
    // was pinned to one thread: 61,404 first-layer weights differed between 1 and 2 threads).
    const fashion = limitSet((await loadFashionMnist()).train, 3000);
    const weights: Float32Array[] = [];
    for (const threads of [1, 2]) {
      await selectBackend('native', { threads });
      weights.push(trainFeatureClassifier(fashion, { epochs: 1 }).layers[0]!.weight);
      assert.equal(nativeAddon().threads(), threads);
    }
    await selectBackend('native', { threads: 1 });
    assert.deepEqual(weights[1], weights[0]);
  });

  it('gives the last hidden layer as features and the softmax of the logits, as a float64 pass does', () => {
    const c = trainFeatureClassifier(train, SMALL);
    // More rows than one scoring batch, so the chunking is exercised.
    const n = 1200;
    const images = gatherBatch(bars(n, 3), rangeIndices(0, n));
    const before = tf.memory().numTensors;
    const features = c.features(images, n);
    const probs = c.probabilities(images, n);
    assert.equal(tf.memory().numTensors, before);
    assert.equal(features.length, n * 8);
    assert.equal(probs.length, n * CLASSES);
    for (const r of [0, 1, 999, 1000, n - 1]) {
      const ref = reference(c.layers, images.subarray(r * 64, (r + 1) * 64));
      ref.features.forEach((v, j) =>
        assert.ok(Math.abs(features[r * 8 + j]! - v) < 1e-4, `feature ${r},${j}`),
      );
      ref.probs.forEach((v, j) => assert.ok(Math.abs(probs[r * CLASSES + j]! - v) < 1e-5, `prob ${r},${j}`));
    }
  });

  it('keeps no tensors alive', () => {
    const before = tf.memory().numTensors;
    trainFeatureClassifier(train, { ...SMALL, epochs: 1 });
    assert.equal(tf.memory().numTensors, before);
  });

  it('needs labels, sane options and enough pixels', () => {
    assert.throws(() => trainFeatureClassifier({ ...train, labels: null }), DataError);
    assert.throws(() => trainFeatureClassifier(train, { epochs: 0 }), ConfigError);
    assert.throws(() => trainFeatureClassifier(train, { hidden: [] }), ConfigError);
    assert.throws(() => trainFeatureClassifier(train, { lr: -1 }), ConfigError);
    assert.throws(() => trainFeatureClassifier(train, { classes: 2 }), /label 3, 2 classes/);
    const c = trainFeatureClassifier(train, { ...SMALL, epochs: 1 });
    assert.throws(() => c.features(new Float32Array(64), 2), /fewer than 2 images of 64 pixels/);
    assert.throws(() => c.accuracy({ ...test, labels: null }), DataError);
  });
});
