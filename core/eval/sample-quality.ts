/**
 * Figures for the samples of a generative model (VAE, GAN, DCGAN, RBM/DBN), read through a
 * classifier the project trains itself on the labelled training set (feature-classifier.ts).
 *
 * The Frechet distance here is NOT the Inception-based FID: Inception's weights are not available
 * offline, so the features are the last hidden layer of that small Fashion-MNIST classifier. The
 * numbers are not comparable to published FIDs, only across runs with the same training set and
 * the same classifier: its seed is fixed and it trains on one thread, so the same training set,
 * options and backend give the same classifier whatever the run's thread count.
 * `classifier_frechet_distance_train_test`, the distance of as many real training images, is the
 * floor a perfect generator would reach, for scale.
 */
import type { ImageSet } from '../data/corpus.js';
import { pixelsPerImage } from '../data/corpus.js';
import { ConfigError, HarmoniumError } from '../errors.js';
import { forEachBatch } from './batches.js';
import type { FeatureClassifier } from './feature-classifier.js';
import { argMax } from './feature-classifier.js';
import type { Gaussian } from './frechet-distance.js';
import { fitGaussian, frechetDistance } from './frechet-distance.js';

/**
 * Draws `count` generated images as rows of pixels in [0, 1] (count x pixels), e.g.
 * `(n) => model.sample(params, n, rng)`.
 */
export type ImageSampler = (count: number) => Float32Array;

/** Knobs of {@link sampleQuality}. */
export interface SampleQualityOptions {
  /**
   * Generated images scored. Default 10000, or the image count of the reference or of `train` when
   * smaller.
   */
  readonly samples?: number;
  /** Images per sampler and classifier call. Default 500. */
  readonly batchSize?: number;
  /**
   * Real training images; the first `samples` of them give the train-to-reference baseline
   * distance. Normally the classifier's own training set.
   */
  readonly train?: ImageSet;
}

/**
 * Sample figures with snake_case keys, as in summary.json's test block:
 * - `classifier_frechet_distance`: Frechet distance between the classifier features of the samples
 *   and of all the reference images;
 * - `classifier_frechet_distance_train_test`: the same for as many real training images as
 *   samples, the floor (only with `train`);
 * - `classifier_frechet_samples`: the number of samples (the estimate's bias depends on it);
 * - `sample_class_entropy_bits`: entropy of the histogram of the samples' predicted classes, at
 *   most log2(classes);
 * - `sample_class_coverage`: fraction of the classes whose share among the samples' predicted
 *   classes is at least half their share among the reference images' predicted classes
 *   (predictions on both sides, so the classifier's confusions cancel); a generator stuck on one
 *   class of ten scores 0.1;
 * - `sample_mean_confidence`: mean over samples of the largest class probability; only telling
 *   beside the others, since the classifier is confidently wrong far from the data (0.99 on
 *   uniform noise);
 * - `classifier_test_accuracy`: the classifier's accuracy on the reference images (only when
 *   they are labelled).
 */
export type SampleQualityReport = Record<string, number>;

const DEFAULT_SAMPLES = 10000;
const DEFAULT_BATCH = 500;

/**
 * Scores `samples` images drawn from `sample` against the `reference` images (the test set)
 * through `classifier`; see {@link SampleQualityReport}. The sampler is called with at most
 * `batchSize` images at a time.
 */
export function sampleQuality(
  sample: ImageSampler,
  classifier: FeatureClassifier,
  reference: ImageSet,
  opts: SampleQualityOptions = {},
): SampleQualityReport {
  const d = classifier.inputSize;
  for (const set of [reference, opts.train]) {
    if (set && pixelsPerImage(set.shape) !== d) {
      throw new HarmoniumError(
        'MODEL_INVALID',
        `${set.name} has ${pixelsPerImage(set.shape)} pixels per image, the feature classifier takes ${d}`,
      );
    }
  }
  const samples = opts.samples ?? Math.min(DEFAULT_SAMPLES, reference.count, opts.train?.count ?? Infinity);
  if (!Number.isInteger(samples) || samples < 2) {
    throw new ConfigError('sample-quality-samples', `must be an integer >= 2, got ${samples}`);
  }
  const batchSize = opts.batchSize ?? DEFAULT_BATCH;
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new ConfigError('sample-quality-batch-size', `must be a positive integer, got ${batchSize}`);
  }
  if (reference.count < 2) {
    throw new ConfigError(
      'sample-quality',
      `${reference.name} needs at least 2 images, has ${reference.count}`,
    );
  }

  const ref = statisticsOfSet(classifier, reference, reference.count, batchSize);
  const generated = new Statistics(classifier, samples);
  for (let start = 0; start < samples; start += batchSize) {
    const rows = Math.min(batchSize, samples - start);
    const images = sample(rows);
    if (images.length < rows * d) {
      throw new HarmoniumError(
        'MODEL_INVALID',
        `the sampler returned ${images.length} values for ${rows} images of ${d} pixels`,
      );
    }
    generated.add(images, rows);
  }

  const classes = classifier.classes;
  const sampleShares = generated.classShares();
  const refShares = ref.classShares();
  let entropy = 0;
  let covered = 0;
  for (let c = 0; c < classes; c++) {
    const p = sampleShares[c]!;
    if (p > 0) entropy -= p * Math.log2(p);
    if (p >= 0.5 * refShares[c]!) covered++;
  }
  const refGaussian = ref.gaussian();
  const report: SampleQualityReport = {
    classifier_frechet_distance: frechetDistance(generated.gaussian(), refGaussian),
    classifier_frechet_samples: samples,
    sample_class_entropy_bits: entropy,
    sample_class_coverage: covered / classes,
    sample_mean_confidence: generated.meanConfidence(),
  };
  if (opts.train) {
    if (opts.train.count < samples) {
      throw new ConfigError(
        'sample-quality-samples',
        `${samples} exceeds the ${opts.train.count} images of ${opts.train.name} for the baseline`,
      );
    }
    const real = statisticsOfSet(classifier, opts.train, samples, batchSize);
    report['classifier_frechet_distance_train_test'] = frechetDistance(real.gaussian(), refGaussian);
  }
  if (reference.labels) report['classifier_test_accuracy'] = classifier.accuracy(reference);
  return report;
}

/** Statistics of the first `count` images of `set`. */
function statisticsOfSet(
  classifier: FeatureClassifier,
  set: ImageSet,
  count: number,
  batchSize: number,
): Statistics {
  const stats = new Statistics(classifier, count);
  forEachBatch(set, batchSize, (batch, rows) => stats.add(batch, rows), count);
  return stats;
}

/** Features, predicted-class counts and confidences of images added a batch at a time. */
class Statistics {
  private readonly features: Float32Array;
  private readonly counts: Float64Array;
  private confidence = 0;
  private rows = 0;

  constructor(
    private readonly classifier: FeatureClassifier,
    capacity: number,
  ) {
    this.features = new Float32Array(capacity * classifier.featureSize);
    this.counts = new Float64Array(classifier.classes);
  }

  add(images: Float32Array, rows: number): void {
    const { classifier } = this;
    const k = classifier.classes;
    this.features.set(classifier.features(images, rows), this.rows * classifier.featureSize);
    const p = classifier.probabilities(images, rows);
    for (let r = 0; r < rows; r++) {
      const c = argMax(p, r * k, k);
      this.counts[c]!++;
      this.confidence += p[r * k + c]!;
    }
    this.rows += rows;
  }

  gaussian(): Gaussian {
    return fitGaussian(this.features, this.rows, this.classifier.featureSize);
  }

  classShares(): Float64Array {
    return this.counts.map((n) => n / this.rows);
  }

  meanConfidence(): number {
    return this.confidence / this.rows;
  }
}
