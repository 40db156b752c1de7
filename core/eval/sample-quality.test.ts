import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { selectBackend } from '../compute/backend.js';
import type { ImageSet } from '../data/corpus.js';
import { gatherBatch } from '../data/corpus.js';
import { Rng } from '../data/rng.js';
import { ConfigError, HarmoniumError } from '../errors.js';
import type { FeatureClassifier } from './feature-classifier.js';
import { trainFeatureClassifier } from './feature-classifier.js';
import type { ImageSampler } from './sample-quality.js';
import { sampleQuality } from './sample-quality.js';

const SIDE = 8;
const D = SIDE * SIDE;
const CLASSES = 4;

/** `count` 8x8 images, class c a bright bar on rows 2c and 2c+1 over uniform noise. */
function bars(count: number, seed: number): ImageSet {
  const rng = new Rng(seed);
  const pixels = new Uint8Array(count * D);
  const labels = new Uint8Array(count);
  for (let i = 0; i < count; i++) {
    const c = rng.int(CLASSES);
    labels[i] = c;
    for (let j = 0; j < D; j++) {
      const row = Math.floor(j / SIDE);
      const bar = row === 2 * c || row === 2 * c + 1;
      pixels[i * D + j] = Math.round(255 * (bar ? 0.5 + 0.5 * rng.uniform() : 0.6 * rng.uniform()));
    }
  }
  return { name: `bars-${seed}`, shape: { height: SIDE, width: SIDE, channels: 1 }, count, pixels, labels };
}

/** Draws images of `pool` at random, only those of `classes` when given; records the batch sizes. */
function realSampler(pool: ImageSet, seed: number, calls: number[] = [], classes?: number[]): ImageSampler {
  const rng = new Rng(seed);
  const allowed = Array.from({ length: pool.count }, (_, i) => i).filter(
    (i) => !classes || classes.includes(pool.labels![i]!),
  );
  return (count) => {
    calls.push(count);
    return gatherBatch(
      pool,
      Array.from({ length: count }, () => allowed[rng.int(allowed.length)]!),
    );
  };
}

const constantSampler: ImageSampler = (count) => new Float32Array(count * D).fill(0.3);

describe('sampleQuality', () => {
  // Sets of 2000: at 500 images the distance between real sets swung from 0.01 to 0.2 with the draw.
  const train = bars(2000, 1);
  const test = bars(2000, 2);
  const fresh = bars(4000, 3);
  let classifier: FeatureClassifier;

  before(async () => {
    await selectBackend('native', { threads: 1 });
    classifier = trainFeatureClassifier(train, { hidden: [16, 8], epochs: 6, batchSize: 32 });
  });

  it('puts a sampler of real images near the train/test floor, with every class covered', () => {
    const calls: number[] = [];
    const r = sampleQuality(realSampler(fresh, 7, calls), classifier, test, { train, batchSize: 900 });
    assert.deepEqual(calls, [900, 900, 200]);
    assert.equal(r['classifier_frechet_samples'], 2000);
    const floor = r['classifier_frechet_distance_train_test']!;
    const fd = r['classifier_frechet_distance']!;
    const stuck = sampleQuality(constantSampler, classifier, test)['classifier_frechet_distance']!;
    assert.ok(
      floor > 0 && fd < 4 * floor && fd < 0.01 * stuck,
      `FD ${fd}, floor ${floor}, constant ${stuck}`,
    );
    assert.equal(r['sample_class_coverage'], 1);
    assert.ok(
      Math.abs(r['sample_class_entropy_bits']! - 2) < 0.02,
      `entropy ${r['sample_class_entropy_bits']}`,
    );
    assert.ok(r['sample_mean_confidence']! > 0.8 && r['sample_mean_confidence']! <= 1);
    assert.ok(r['classifier_test_accuracy']! > 0.95);
  });

  it('gives a constant image a large distance, no entropy and one class of four', () => {
    const real = sampleQuality(realSampler(fresh, 7), classifier, test)['classifier_frechet_distance']!;
    const r = sampleQuality(constantSampler, classifier, test);
    assert.ok(
      r['classifier_frechet_distance']! > 20 * real,
      `FD ${r['classifier_frechet_distance']} vs ${real}`,
    );
    assert.equal(r['sample_class_entropy_bits'], 0);
    assert.equal(r['sample_class_coverage'], 1 / CLASSES);
  });

  it('counts the classes a sampler stuck on one or two classes covers', () => {
    const real = sampleQuality(realSampler(fresh, 7), classifier, test)['classifier_frechet_distance']!;
    const one = sampleQuality(realSampler(fresh, 8, [], [1]), classifier, test);
    assert.equal(one['sample_class_coverage'], 1 / CLASSES);
    assert.ok(one['sample_class_entropy_bits']! < 0.2, `entropy ${one['sample_class_entropy_bits']}`);
    assert.ok(one['classifier_frechet_distance']! > 10 * real);
    // Half each of two classes: 0.5 >= half of their 0.25 share, the other two get none.
    const two = sampleQuality(realSampler(fresh, 9, [], [0, 3]), classifier, test);
    assert.equal(two['sample_class_coverage'], 2 / CLASSES);
    assert.ok(Math.abs(two['sample_class_entropy_bits']! - 1) < 0.05);
  });

  it('leaves out the figures without their inputs and scores no more samples than the sets hold', () => {
    const r = sampleQuality(constantSampler, classifier, { ...test, labels: null }, { samples: 10 });
    assert.deepEqual(Object.keys(r).sort(), [
      'classifier_frechet_distance',
      'classifier_frechet_samples',
      'sample_class_coverage',
      'sample_class_entropy_bits',
      'sample_mean_confidence',
    ]);
    assert.equal(r['classifier_frechet_samples'], 10);
    const few = sampleQuality(constantSampler, classifier, test, { train: bars(300, 4) });
    assert.equal(few['classifier_frechet_samples'], 300);
    assert.ok(few['classifier_frechet_distance_train_test']! < few['classifier_frechet_distance']!);
  });

  it('rejects a short sample, too few samples, a small baseline set and other image sizes', () => {
    assert.throws(
      () => sampleQuality(() => new Float32Array(D), classifier, test, { samples: 4 }),
      (e) => e instanceof HarmoniumError && /returned 64 values for 4 images of 64 pixels/.test(e.message),
    );
    assert.throws(() => sampleQuality(constantSampler, classifier, test, { samples: 1 }), ConfigError);
    assert.throws(
      () => sampleQuality(constantSampler, classifier, test, { train: bars(100, 4), samples: 200 }),
      /200 exceeds the 100 images/,
    );
    const small: ImageSet = { ...test, shape: { height: 4, width: 4, channels: 1 }, count: 1 };
    assert.throws(() => sampleQuality(constantSampler, classifier, test, { train: small }), /takes 64/);
  });
});
