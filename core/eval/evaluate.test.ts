import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { before, describe, it } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { selectBackend } from '../compute/backend.js';
import type { ImageSet } from '../data/corpus.js';
import { Rng } from '../data/rng.js';
import type { Model, StepResult } from '../models/model.js';
import { evaluateModel } from './evaluate.js';
import type { Pca } from './pca.js';
import { fitPca } from './pca.js';
import { reconstructionError } from './reconstruction.js';

const FASHION = '/usr/share/datasets/fashion-mnist/';

/** Payload of an IDX file: after a 16-byte header for images, 8 for labels. */
function readIdx(file: string): Uint8Array {
  const b = gunzipSync(readFileSync(FASHION + file));
  return b.subarray(4 + 4 * b[3]!);
}

function fashion(split: 'train' | 't10k', count: number, withLabels = true): ImageSet {
  return {
    name: `fashion-mnist/${split}`,
    shape: { height: 28, width: 28, channels: 1 },
    count,
    pixels: readIdx(`${split}-images-idx3-ubyte.gz`).subarray(0, count * 784),
    labels: withLabels ? readIdx(`${split}-labels-idx1-ubyte.gz`).subarray(0, count) : null,
  };
}

/**
 * A linear autoencoder with weights w (D x k) and offset m (D): code = (x − m) w, x̂ = m + code wᵀ.
 * With a PCA's components it is that PCA. Its `evaluate` reports pixel sums so averaging is checkable.
 */
function linearModel(pca: Pca): Model {
  const d = pca.dim;
  const k = pca.k;
  const params = new Float32Array(d * k + d);
  for (let i = 0; i < d; i++) for (let j = 0; j < k; j++) params[i * k + j] = pca.components[j * d + i]!;
  params.set(pca.mean, d * k);
  const encode = (p: Float32Array, x: Float32Array, n: number): Float32Array => {
    const out = new Float32Array(n * k);
    for (let r = 0; r < n; r++) {
      for (let i = 0; i < d; i++) {
        const v = x[r * d + i]! - p[d * k + i]!;
        for (let j = 0; j < k; j++) out[r * k + j]! += v * p[i * k + j]!;
      }
    }
    return out;
  };
  const decode = (p: Float32Array, z: Float32Array, n: number): Float32Array => {
    const out = new Float32Array(n * d);
    for (let r = 0; r < n; r++) {
      for (let i = 0; i < d; i++) {
        let s = p[d * k + i]!;
        for (let j = 0; j < k; j++) s += z[r * k + j]! * p[i * k + j]!;
        out[r * d + i] = s;
      }
    }
    return out;
  };
  const model: Model = {
    kind: 'linear',
    inputSize: d,
    codeSize: k,
    paramSpecs: [
      { name: 'w', shape: [d, k] },
      { name: 'm', shape: [d] },
    ],
    hyper: {},
    init: () => params.slice(),
    step: (): StepResult => {
      throw new Error('the test model is not trained');
    },
    encode,
    decode,
    reconstruct: (p, x, n) => decode(p, encode(p, x, n), n),
    evaluate: (_p, x, n) => {
      let s = 0;
      for (let i = 0; i < n * d; i++) s += x[i]!;
      return { pixel_sum: s, sse_per_image: -n };
    },
    evaluateSet: (_p, _x, n) => ({ images_seen: n }),
  };
  return model;
}

function pixelSumPerImage(set: ImageSet): number {
  let s = 0;
  for (const v of set.pixels) s += v / 255;
  return s / set.count;
}

before(async () => {
  await selectBackend('wasm');
});

describe('reconstructionError', () => {
  it('is zero for an exact reconstruction and Σx² for a zero one', () => {
    const set: ImageSet = {
      name: 'tiny',
      shape: { height: 1, width: 3, channels: 1 },
      count: 3,
      pixels: Uint8Array.from([255, 0, 0, 0, 255, 255, 51, 51, 51]),
      labels: null,
    };
    const base = linearModel(
      fitPca(
        new Float32Array(6).fill(0.5).map((v, i) => v * i),
        2,
        3,
        1,
      ),
    );
    const identity: Model = { ...base, reconstruct: (_p, x) => x.slice() };
    const zero: Model = { ...base, reconstruct: (_p, _x, n) => new Float32Array(n * 3) };
    assert.deepEqual(reconstructionError(identity, new Float32Array(0), set, 2), {
      sse_per_image: 0,
      mse_per_pixel: 0,
    });
    const r = reconstructionError(zero, new Float32Array(0), set, 2);
    const expected = (1 + 2 + 3 * 0.2 ** 2) / 3;
    assert.ok(Math.abs(r.sse_per_image - expected) < 1e-6, `${r.sse_per_image}`);
    assert.ok(Math.abs(r.mse_per_pixel - expected / 3) < 1e-6);
    const wrong: Model = { ...base, inputSize: 4 };
    assert.throws(() => reconstructionError(wrong, new Float32Array(0), set), /4 values per image/);
  });
});

describe('evaluateModel', () => {
  const train = fashion('train', 3000);
  const test = fashion('t10k', 1000);
  const d = 784;

  it('reports a PCA-equivalent linear model at the PCA baseline, with probes and model figures', () => {
    const trainX = Float32Array.from(train.pixels, (v) => v / 255);
    const pca = fitPca(trainX, train.count, d, 10);
    const model = linearModel(pca);
    const t = performance.now();
    const report = evaluateModel(model, model.init(new Rng(0)), { train, test, seed: 1, batchSize: 256 });
    console.log(
      `evaluateModel (3000 train, 1000 test, k=10): ${(performance.now() - t).toFixed(0)} ms`,
      report,
    );
    assert.deepEqual(Object.keys(report).sort(), [
      'images_seen',
      'model_sse_per_image',
      'mse_per_pixel',
      'pca_fit_images',
      'pca_mse_per_pixel',
      'pca_sse_per_image',
      'pixel_sum',
      'probe_accuracy',
      'raw_probe_accuracy',
      'sse_per_image',
    ]);
    // The model is the PCA the report fits on the same training set.
    assert.ok(
      Math.abs(report['sse_per_image']! - report['pca_sse_per_image']!) < 1e-3 * report['sse_per_image']!,
    );
    assert.ok(report['sse_per_image']! > 15 && report['sse_per_image']! < 25, `${report['sse_per_image']}`);
    assert.ok(Math.abs(report['mse_per_pixel']! * d - report['sse_per_image']!) < 1e-9);
    assert.ok(report['raw_probe_accuracy']! > 0.7, `raw ${report['raw_probe_accuracy']}`);
    assert.ok(report['probe_accuracy']! > 0.6, `codes ${report['probe_accuracy']}`);
    assert.ok(Math.abs(report['pixel_sum']! - pixelSumPerImage(test)) < 1e-6 * pixelSumPerImage(test));
    assert.equal(report['model_sse_per_image'], -1);
    assert.equal(report['images_seen'], 1000);
    assert.equal(report['pca_fit_images'], 3000);
  });

  it('leaves out the probes without labels and the PCA baseline when the code is as wide as the input', () => {
    const unlabelled: ImageSet = { ...fashion('t10k', 200, false), name: 'unlabelled' };
    const smallTrain = fashion('train', 300, false);
    const narrow = linearModel(
      fitPca(
        Float32Array.from(smallTrain.pixels, (v) => v / 255),
        300,
        d,
        3,
      ),
    );
    const r1 = evaluateModel(narrow, narrow.init(new Rng(0)), {
      train: smallTrain,
      test: unlabelled,
      seed: 0,
      maxTest: 50,
    });
    assert.equal(r1['images_seen'], 50);
    assert.ok('pca_sse_per_image' in r1);
    assert.ok(!('probe_accuracy' in r1) && !('raw_probe_accuracy' in r1));
    const wide: Model = { ...narrow, codeSize: d };
    const r2 = evaluateModel(wide, narrow.init(new Rng(0)), {
      train: smallTrain,
      test: unlabelled,
      seed: 0,
      maxTest: 50,
    });
    assert.ok(!('pca_sse_per_image' in r2) && !('pca_mse_per_pixel' in r2));
    assert.equal(r2['sse_per_image'], r1['sse_per_image']);
  });

  it('scores the samples of a model without an encoder through the project classifier', () => {
    const real = fashion('train', 3000);
    const shown = fashion('train', 1000);
    /** A "generator" that replays real images, or one that always draws the mean image. */
    const sampler = (kind: 'real' | 'mean'): Model => {
      let next = 0;
      const mean = new Float32Array(d);
      for (let i = 0; i < shown.count * d; i++) mean[i % d]! += shown.pixels[i]! / 255 / shown.count;
      return {
        kind: 'gan',
        inputSize: d,
        codeSize: 4,
        paramSpecs: [],
        hyper: {},
        init: () => new Float32Array(0),
        step: (): StepResult => {
          throw new Error('the test model is not trained');
        },
        decode: (_p, _z, n) => new Float32Array(n * d),
        priorCodes: (n, rng) => rng.fillNormal(new Float32Array(4 * n)),
        sample: (_p, n) => {
          const out = new Float32Array(n * d);
          for (let r = 0; r < n; r++, next++) {
            for (let i = 0; i < d; i++) {
              out[r * d + i] = kind === 'mean' ? mean[i]! : shown.pixels[(next % shown.count) * d + i]! / 255;
            }
          }
          return out;
        },
      };
    };
    const good = evaluateModel(sampler('real'), new Float32Array(0), { train: real, test, seed: 1 });
    const bad = evaluateModel(sampler('mean'), new Float32Array(0), { train: real, test, seed: 1 });
    // No encoder: no reconstruction error, PCA baseline or code probe; the raw-pixel probe stays.
    assert.deepEqual(Object.keys(good).sort(), [
      'classifier_frechet_distance',
      'classifier_frechet_distance_train_test',
      'classifier_frechet_samples',
      'classifier_test_accuracy',
      'raw_probe_accuracy',
      'sample_class_coverage',
      'sample_class_entropy_bits',
      'sample_mean_confidence',
    ]);
    assert.equal(good['classifier_frechet_samples'], 1000);
    assert.ok(good['classifier_test_accuracy']! > 0.7, `${good['classifier_test_accuracy']}`);
    // Real images sit near the floor; the mean image is far off, one class, no entropy.
    const floor = good['classifier_frechet_distance_train_test']!;
    assert.ok(good['classifier_frechet_distance']! < 2 * floor + 0.5, JSON.stringify(good));
    assert.ok(
      bad['classifier_frechet_distance']! > 20 * good['classifier_frechet_distance']!,
      JSON.stringify(bad),
    );
    assert.equal(bad['sample_class_entropy_bits'], 0);
    assert.equal(bad['sample_class_coverage'], 0.1);
    assert.equal(good['sample_class_coverage'], 1);
    // A Gibbs sampler (no prior codes to decode) is not scored: 10,000 chains would take minutes.
    const chains: Model = { ...sampler('real'), priorCodes: undefined };
    const unscored = evaluateModel(chains, new Float32Array(0), { train: real, test, seed: 1 });
    assert.deepEqual(Object.keys(unscored), ['raw_probe_accuracy']);
  });
});
