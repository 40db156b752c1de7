/**
 * The test report of a trained model: reconstruction error beside the PCA baseline with as many
 * components as the model's code, linear-probe accuracy of its codes beside the same probe on raw
 * pixels, its samples scored by a project-trained classifier (for generative models), and the
 * model's own figures (ELBO, pseudo-likelihood...). Labels are read here only.
 */
import type { ImageSet } from '../data/corpus.js';
import { gatherBatch, limitSet, pixelsPerImage } from '../data/corpus.js';
import { Rng, deriveSeed } from '../data/rng.js';
import { HarmoniumError } from '../errors.js';
import type { Model } from '../models/model.js';
import { forEachBatch, rangeIndices } from './batches.js';
import type { Probe, ProbeOptions } from './logistic-probe.js';
import { probePredict, selectLabelledSubset, trainProbe } from './logistic-probe.js';
import type { FeatureClassifier } from './feature-classifier.js';
import { finetuneReport } from './finetune.js';
import { trainFeatureClassifier } from './feature-classifier.js';
import type { PcaOptions } from './pca.js';
import { fitPcaToSet, pcaEncode, pcaReconstruct } from './pca.js';
import { reconstructionError, reconstructionErrorOf } from './reconstruction.js';
import { sampleQuality } from './sample-quality.js';

/**
 * Named test figures with snake_case keys: `sse_per_image`, `mse_per_pixel`, `pca_sse_per_image`,
 * `pca_mse_per_pixel` with `pca_fit_images` (the training images the PCA was fitted on),
 * `probe_accuracy`, `raw_probe_accuracy`, for a dense encoder `finetune_accuracy` and
 * `finetune_random_init_accuracy` (finetune.ts), for a model that samples the figures of
 * {@link sampleQuality} (`classifier_frechet_distance`...), then the model's own keys. A figure
 * that does not apply (no labels, no code, no sampler) is absent rather than NaN.
 */
export type TestReport = Record<string, number>;

/** Inputs and knobs of {@link evaluateModel}. */
export interface EvaluateOptions {
  /** The training set: the PCA baseline is fitted on it and the probe trained on a labelled subset. */
  readonly train: ImageSet;
  readonly test: ImageSet;
  /** Seeds the labelled subset and the model's stochastic figures. */
  readonly seed: number;
  /** Labelled training images per class for the probes. Default 100. */
  readonly probePerClass?: number;
  /** Evaluate on the first `maxTest` test images only. */
  readonly maxTest?: number;
  /** Images per model call. Default 500. */
  readonly batchSize?: number;
  /** Fit the PCA baseline on the first this many training images (default all). */
  readonly pcaTrainLimit?: number;
  readonly pca?: PcaOptions;
  readonly probe?: ProbeOptions;
  /**
   * The classifier whose features score a generative model's samples (sample-quality.ts); trained
   * on `train` when absent and needed.
   */
  readonly classifier?: FeatureClassifier;
  /** Samples scored by the classifier. Default 10000, or fewer when the test set is smaller. */
  readonly samples?: number;
}

/** Keys the report computes itself; a model figure with the same name is stored as `model_<key>`. */
const OWN_KEYS = new Set([
  'sse_per_image',
  'mse_per_pixel',
  'pca_sse_per_image',
  'pca_mse_per_pixel',
  'pca_fit_images',
  'probe_accuracy',
  'raw_probe_accuracy',
  'classifier_frechet_distance',
  'classifier_frechet_distance_train_test',
  'classifier_frechet_samples',
  'sample_class_entropy_bits',
  'sample_class_coverage',
  'sample_mean_confidence',
  'classifier_test_accuracy',
  'finetune_accuracy',
  'finetune_random_init_accuracy',
]);

/** Computes the test report of `model` with parameters `params` (see {@link TestReport}). */
export function evaluateModel(model: Model, params: Float32Array, opts: EvaluateOptions): TestReport {
  const { train } = opts;
  const test = opts.maxTest !== undefined ? limitSet(opts.test, opts.maxTest) : opts.test;
  const d = pixelsPerImage(test.shape);
  if (pixelsPerImage(train.shape) !== d) {
    throw new HarmoniumError('MODEL_INVALID', `${train.name} and ${test.name} have different image shapes`);
  }
  const batchSize = opts.batchSize ?? 500;
  const report: TestReport = model.reconstruct
    ? { ...reconstructionError(model, params, test, batchSize) }
    : {};

  const encode = model.encode?.bind(model);
  const k = encode ? model.codeSize : 0;
  // PCA with as many components as the code; meaningless at k >= D (it reconstructs exactly).
  const pcaTrain = opts.pcaTrainLimit !== undefined ? limitSet(train, opts.pcaTrainLimit) : train;
  if (model.reconstruct && k >= 1 && k < d && k < pcaTrain.count) {
    const pca = fitPcaToSet(pcaTrain, k, opts.pca);
    const err = reconstructionErrorOf(
      (batch, rows) => pcaReconstruct(pca, pcaEncode(pca, batch, rows), rows),
      test,
      batchSize,
    );
    report['pca_sse_per_image'] = err.sse_per_image;
    report['pca_mse_per_pixel'] = err.mse_per_pixel;
    report['pca_fit_images'] = pcaTrain.count;
  }

  if (train.labels && test.labels && test.count > 0) {
    const trainLabels = train.labels;
    const testLabels = test.labels;
    const chosen = selectLabelledSubset(trainLabels, opts.probePerClass ?? 100, opts.seed);
    const labels = Uint8Array.from(chosen, (i) => trainLabels[i]!);
    let classes = 0;
    for (const c of trainLabels) classes = Math.max(classes, c + 1);
    const probeOpts: ProbeOptions = { classes, ...opts.probe };
    const pixels = gatherBatch(train, chosen);

    const rawProbe = trainProbe(pixels, labels, chosen.length, d, probeOpts);
    report['raw_probe_accuracy'] = testAccuracy(test, testLabels, batchSize, rawProbe, (batch) => batch);

    if (encode && k >= 1) {
      const codes = new Float32Array(chosen.length * k);
      for (let start = 0; start < chosen.length; start += batchSize) {
        const rows = Math.min(batchSize, chosen.length - start);
        const batch = pixels.subarray(start * d, (start + rows) * d);
        codes.set(encode(params, batch, rows), start * k);
      }
      const codeProbe = trainProbe(codes, labels, chosen.length, k, probeOpts);
      report['probe_accuracy'] = testAccuracy(test, testLabels, batchSize, codeProbe, (batch, rows) =>
        encode(params, batch, rows),
      );
    }
    // The semi-supervised recipe: the encoder and a softmax head trained together on the labelled subset.
    if (model.encoderLayers) {
      Object.assign(
        report,
        finetuneReport(model.encoderLayers(params), { images: pixels, labels, count: chosen.length }, test, {
          seed: opts.seed,
          classes,
        }),
      );
    }
  }

  // Ancestral samplers only (decode of prior codes: VAE, GANs); the RBM's and DBN's Gibbs chains
  // would need minutes for 10,000 samples.
  if (
    model.sample &&
    model.priorCodes &&
    train.labels &&
    test.labels &&
    test.count >= 2 &&
    train.count >= 2
  ) {
    const sample = model.sample.bind(model);
    const rng = new Rng(deriveSeed(opts.seed, 0x736d70));
    const classifier = opts.classifier ?? trainFeatureClassifier(train);
    Object.assign(
      report,
      sampleQuality((n) => sample(params, n, rng), classifier, test, {
        train,
        batchSize,
        ...(opts.samples !== undefined ? { samples: opts.samples } : {}),
      }),
    );
  }

  const extras: Record<string, number> = {};
  if (model.evaluate) {
    const evaluate = model.evaluate.bind(model);
    const rng = new Rng(deriveSeed(opts.seed, 0x65766c));
    const sums = new Map<string, number>();
    forEachBatch(test, batchSize, (batch, rows) => {
      for (const [key, v] of Object.entries(evaluate(params, batch, rows, rng)))
        sums.set(key, (sums.get(key) ?? 0) + v);
    });
    for (const [key, v] of sums) extras[key] = v / test.count;
  }
  if (model.evaluateSet && test.count > 0) {
    const all = gatherBatch(test, rangeIndices(0, test.count));
    const rng = new Rng(deriveSeed(opts.seed, 0x616973));
    Object.assign(extras, model.evaluateSet(params, all, test.count, rng) ?? {});
  }
  for (const [key, v] of Object.entries(extras)) report[OWN_KEYS.has(key) ? `model_${key}` : key] = v;
  return report;
}

/** Accuracy of `probe` on the features `featuresOf` gives for each test batch. */
function testAccuracy(
  test: ImageSet,
  labels: Uint8Array,
  batchSize: number,
  probe: Probe,
  featuresOf: (batch: Float32Array, rows: number) => Float32Array,
): number {
  let right = 0;
  forEachBatch(test, batchSize, (batch, rows, start) => {
    const pred = probePredict(probe, featuresOf(batch, rows), rows);
    for (let i = 0; i < rows; i++) if (pred[i] === labels[start + i]) right++;
  });
  return right / test.count;
}
