/**
 * A classifier the project trains itself on every labelled training image, whose last hidden layer
 * is the feature space of the classifier Frechet distance (the stand-in for Inception, whose
 * weights are not available offline) and whose predictions give the class figures of generated
 * samples. A ReLU MLP (pixels -> 256 -> 64 -> classes) rather than a small CNN: on Fashion-MNIST at
 * one native thread a 5x5 conv net with 16 and 32 channels took over 40 s per epoch, the MLP under
 * 2 s, training to 89% test accuracy in about 13 s of CPU. Its seed is fixed, not the run's: the same
 * training set, options, backend and thread count give the same weights, bit for bit, so distances
 * compare across runs (at 1 and 2 native threads the weights differ by rounding and the distances
 * by a few percent).
 */
import { optionalNativeAddon } from '../compute/native-addon.js';
import { tf } from '../compute/tf.js';
import type { ImageSet } from '../data/corpus.js';
import { gatherBatch, pixelsPerImage } from '../data/corpus.js';
import { Rng } from '../data/rng.js';
import { ConfigError, DataError, HarmoniumError } from '../errors.js';
import { dense, glorotUniform, matrix } from '../models/layers.js';
import type { DenseLayerValues } from '../models/model.js';
import { forEachBatch } from './batches.js';
import { TensorAdam } from './tensor-adam.js';

/** Knobs of {@link trainFeatureClassifier}; change them and distances stop being comparable. */
export interface FeatureClassifierOptions {
  /** Widths of the hidden ReLU layers; the last is the feature size. Default [256, 64]. */
  readonly hidden?: readonly number[];
  /** Passes over the training set. Default 8. */
  readonly epochs?: number;
  /** Default 256. */
  readonly batchSize?: number;
  /** Adam's initial learning rate, decayed linearly to 0 over training. Default 3e-3. */
  readonly lr?: number;
  /** Number of classes; default: the largest training label + 1. */
  readonly classes?: number;
}

/** A trained classifier; it holds its weights as Float32Arrays, never tensors between calls. */
export interface FeatureClassifier {
  /** Pixels per input image. */
  readonly inputSize: number;
  /** Width of the feature layer (the last hidden layer). */
  readonly featureSize: number;
  readonly classes: number;
  /** One line: architecture, epochs, training images. */
  readonly describe: string;
  /** Hidden ReLU layers then the linear class layer (logits). */
  readonly layers: readonly DenseLayerValues[];
  /** Features (count x featureSize, row-major) of `count` images (rows of pixels in [0, 1]). */
  features(images: Float32Array, count: number): Float32Array;
  /** Class probabilities (count x classes, row-major) of `count` images. */
  probabilities(images: Float32Array, count: number): Float32Array;
  /** Fraction of the labelled images of `set` whose most probable class is their label. */
  accuracy(set: ImageSet): number;
}

const DEFAULT_HIDDEN = [256, 64] as const;
const DEFAULT_EPOCHS = 8;
const DEFAULT_BATCH = 256;
const DEFAULT_LR = 3e-3;
/** The classifier's own seed ("FCLS"), independent of any run seed. */
const SEED = 0x46434c53;
/** Images per forward pass when scoring (bounds tensor memory). */
const SCORE_BATCH = 1000;

/**
 * Trains the feature classifier on every image of `train` (which must have labels) with Adam on
 * mean cross-entropy, from Glorot-uniform weights and in a batch order drawn from a fixed seed.
 */
export function trainFeatureClassifier(
  train: ImageSet,
  opts: FeatureClassifierOptions = {},
): FeatureClassifier {
  const labels = train.labels;
  if (!labels)
    throw new DataError('DATA_FORMAT', `${train.name} has no labels to train the feature classifier`);
  const hidden = opts.hidden ?? DEFAULT_HIDDEN;
  if (hidden.length < 1)
    throw new ConfigError('feature-classifier-hidden', 'needs at least one hidden layer');
  for (const h of hidden) positiveInteger('feature-classifier-hidden', h);
  const epochs = positiveInteger('feature-classifier-epochs', opts.epochs ?? DEFAULT_EPOCHS);
  const batchSize = positiveInteger('feature-classifier-batch-size', opts.batchSize ?? DEFAULT_BATCH);
  const lr = opts.lr ?? DEFAULT_LR;
  if (!(lr > 0) || !Number.isFinite(lr)) {
    throw new ConfigError('feature-classifier-lr', `must be a finite number > 0, got ${lr}`);
  }
  const count = train.count;
  if (count < 1)
    throw new DataError('DATA_FORMAT', `${train.name} has no images to train the feature classifier`);
  let maxLabel = 0;
  for (let i = 0; i < count; i++) maxLabel = Math.max(maxLabel, labels[i]!);
  const classes = opts.classes ?? maxLabel + 1;
  if (classes < 2 || maxLabel >= classes) {
    throw new ConfigError(
      'feature-classifier-classes',
      `needs at least 2 classes and every label below their number: label ${maxLabel}, ${classes} classes`,
    );
  }

  // One thread on the native backend, whatever the run's: products and reductions split over
  // threads round differently, and training amplifies it (measured: 61,404 of 200,704 first-layer
  // weights differed between 1 and 2 threads), so the classifier would depend on --threads.
  const addon = tf.getBackend() === 'native' ? optionalNativeAddon() : null;
  const threads = addon?.threads() ?? 1;
  addon?.setThreads(1);
  try {
    return trainMlp(train, labels, hidden, classes, epochs, batchSize, lr);
  } finally {
    addon?.setThreads(threads);
  }
}

/** The training itself, on validated options. */
function trainMlp(
  train: ImageSet,
  labels: ArrayLike<number>,
  hidden: readonly number[],
  classes: number,
  epochs: number,
  batchSize: number,
  lr: number,
): FeatureClassifier {
  const count = train.count;
  const dim = pixelsPerImage(train.shape);
  const widths = [dim, ...hidden, classes];
  const rng = new Rng(SEED);
  const initial: tf.Tensor[] = [];
  for (let i = 0; i + 1 < widths.length; i++) {
    const w = new Float32Array(widths[i]! * widths[i + 1]!);
    glorotUniform(rng, widths[i]!, widths[i + 1]!, w);
    initial.push(tf.tensor2d(w, [widths[i]!, widths[i + 1]!]), tf.zeros([widths[i + 1]!]));
  }
  const adam = new TensorAdam(initial);
  const lossOf = (x: tf.Tensor2D, y: tf.Tensor2D) =>
    tf.valueAndGrads((...p: tf.Tensor[]) =>
      tf.neg(tf.mean(tf.sum(tf.mul(y, tf.logSoftmax(logits(x, p))), 1))),
    );

  const order = Int32Array.from({ length: count }, (_, i) => i);
  const batch = new Float32Array(Math.min(batchSize, count) * dim);
  const steps = epochs * Math.ceil(count / batchSize);
  try {
    for (let e = 0; e < epochs; e++) {
      rng.shuffle(order);
      for (let start = 0; start < count; start += batchSize) {
        const rows = Math.min(batchSize, count - start);
        const idx = order.subarray(start, start + rows);
        gatherBatch(train, idx, batch);
        // Linear decay to 0 settles the weights without a tuned schedule.
        const loss = adam.step(lr * (1 - adam.steps / steps), (params) => {
          const y = tf.oneHot(
            tf.tensor1d(
              Int32Array.from(idx, (i) => labels[i]!),
              'int32',
            ),
            classes,
          );
          return lossOf(matrix(batch, rows, dim), y as tf.Tensor2D)(params);
        });
        loss.dispose();
      }
    }
    const layers: DenseLayerValues[] = [];
    for (let i = 0; i + 1 < widths.length; i++) {
      layers.push({
        inputs: widths[i]!,
        outputs: widths[i + 1]!,
        weight: Float32Array.from(adam.params[2 * i]!.dataSync() as Float32Array),
        bias: Float32Array.from(adam.params[2 * i + 1]!.dataSync() as Float32Array),
        activation: i + 2 < widths.length ? 'relu' : 'linear',
      });
    }
    const describe = `MLP ${widths.join('-')} (ReLU, Adam), ${epochs} epochs on ${count} ${train.name} images`;
    return new MlpFeatureClassifier(layers, describe);
  } finally {
    adam.dispose();
  }
}

/**
 * `x` through the first `upTo` layers of weights and biases `p` (two tensors per layer), ReLU after
 * every layer but the network's last: the logits, or with one layer fewer the features.
 */
function logits(x: tf.Tensor2D, p: readonly tf.Tensor[], upTo = p.length / 2): tf.Tensor2D {
  let h = x;
  for (let i = 0; i < upTo; i++) {
    h = dense(h, p[2 * i] as tf.Tensor2D, p[2 * i + 1] as tf.Tensor1D);
    if (i + 1 < p.length / 2) h = tf.relu(h);
  }
  return h;
}

class MlpFeatureClassifier implements FeatureClassifier {
  readonly inputSize: number;
  readonly featureSize: number;
  readonly classes: number;

  constructor(
    readonly layers: readonly DenseLayerValues[],
    readonly describe: string,
  ) {
    this.inputSize = layers[0]!.inputs;
    this.featureSize = layers[layers.length - 1]!.inputs;
    this.classes = layers[layers.length - 1]!.outputs;
  }

  features(images: Float32Array, count: number): Float32Array {
    return this.run(images, count, this.layers.length - 1, this.featureSize, (h) => h);
  }

  probabilities(images: Float32Array, count: number): Float32Array {
    return this.run(images, count, this.layers.length, this.classes, (h) => tf.softmax(h));
  }

  accuracy(set: ImageSet): number {
    const labels = set.labels;
    if (!labels) throw new DataError('DATA_FORMAT', `${set.name} has no labels to measure accuracy on`);
    if (set.count === 0) return NaN;
    let right = 0;
    forEachBatch(set, SCORE_BATCH, (batch, rows, start) => {
      const p = this.probabilities(batch, rows);
      for (let r = 0; r < rows; r++)
        if (argMax(p, r * this.classes, this.classes) === labels[start + r]) right++;
    });
    return right / set.count;
  }

  /** The first `depth` layers applied to `count` images, then `head`, as `width` values per image. */
  private run(
    images: Float32Array,
    count: number,
    depth: number,
    width: number,
    head: (h: tf.Tensor2D) => tf.Tensor2D,
  ): Float32Array {
    if (images.length < count * this.inputSize) {
      throw new HarmoniumError(
        'MODEL_INVALID',
        `feature classifier: ${images.length} values are fewer than ${count} images of ${this.inputSize} pixels`,
      );
    }
    const out = new Float32Array(count * width);
    const p = this.layers.flatMap((l) => [tf.tensor2d(l.weight, [l.inputs, l.outputs]), tf.tensor1d(l.bias)]);
    try {
      for (let start = 0; start < count; start += SCORE_BATCH) {
        const rows = Math.min(SCORE_BATCH, count - start);
        const y = tf.tidy(() => {
          const x = matrix(images.subarray(start * this.inputSize), rows, this.inputSize);
          return head(logits(x, p, depth));
        });
        out.set(y.dataSync() as Float32Array, start * width);
        y.dispose();
      }
    } finally {
      tf.dispose(p);
    }
    return out;
  }
}

/** Index of the largest of `n` values of `a` from `offset` (the first on ties). */
export function argMax(a: Float32Array, offset: number, n: number): number {
  let best = 0;
  for (let j = 1; j < n; j++) if (a[offset + j]! > a[offset + best]!) best = j;
  return best;
}

function positiveInteger(field: string, v: number): number {
  if (!Number.isInteger(v) || v < 1) throw new ConfigError(field, `must be a positive integer, got ${v}`);
  return v;
}
