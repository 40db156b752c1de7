/**
 * Semi-supervised fine-tuning: a pretrained encoder's dense layers under a softmax head, all trained
 * jointly by cross-entropy on a small labelled set (the recipe of Hinton & Salakhutdinov 2006 for
 * stacked autoencoders and DBNs), against the same network and procedure from random weights.
 * Labels are read here only.
 */
import { tf } from '../compute/tf.js';
import type { ImageSet } from '../data/corpus.js';
import { pixelsPerImage } from '../data/corpus.js';
import { Rng, deriveSeed } from '../data/rng.js';
import { ConfigError, DataError, HarmoniumError } from '../errors.js';
import { activate, dense, glorotUniform, matrix } from '../models/layers.js';
import type { DenseLayerValues } from '../models/model.js';
import { forEachBatch } from './batches.js';
import { TensorAdam } from './tensor-adam.js';

/** `count` labelled images: rows of pixels in [0, 1] and one class index per row. */
export interface LabelledImages {
  readonly images: Float32Array;
  readonly labels: Uint8Array;
  readonly count: number;
}

/**
 * Knobs of {@link finetuneClassifier}. The defaults are one fixed recipe, used unchanged for the
 * pretrained and the randomly initialised network so that the two accuracies differ by the
 * initialisation alone: Adam (lr 3e-3, betas 0.9 / 0.999) on mini-batches of 100 for 50 epochs,
 * no weight decay, no early stopping. It is sized for the slowest network to fit, the random
 * 784-1000-500-250-30 sigmoid stack on 1,000 Fashion-MNIST labels: at lr 1e-3 it still underfits
 * after 100 epochs (which would credit pretraining with the baseline's slow start), at 1e-2 its
 * training loss climbs back up after epoch 30, at 3e-3 it is ~0.07 by epoch 50 and the test
 * accuracy has levelled off.
 * The body gets the head's learning rate: a smaller one would cripple the random start by design.
 */
export interface FinetuneOptions {
  /** Seeds the batch order (and the weights of {@link randomInitLayers} in {@link finetuneReport}). */
  readonly seed: number;
  /** Number of classes; default: the largest label + 1. */
  readonly classes?: number;
  /** Passes over the labelled set. Default 50. */
  readonly epochs?: number;
  /** Default 100. */
  readonly batchSize?: number;
  /** Adam's learning rate. Default 3e-3. */
  readonly lr?: number;
}

/** A fine-tuned network: class scores are head(body(x)), the head linear (logits). */
export interface FinetunedClassifier {
  /** The body's layers after fine-tuning (copies). */
  readonly layers: readonly DenseLayerValues[];
  /** code -> classes, activation 'linear'. */
  readonly head: DenseLayerValues;
  readonly classes: number;
  /** Mean cross-entropy (nats) over each epoch's batches, as they were trained. */
  readonly epochLosses: Float64Array;
}

/** Test accuracies of {@link finetuneReport}, keyed as in summary.json's test block. */
export interface FinetuneReport {
  /** The pretrained body fine-tuned under a softmax head. */
  readonly finetune_accuracy: number;
  /** The same architecture and procedure from Glorot-uniform weights. */
  readonly finetune_random_init_accuracy: number;
}

const DEFAULT_EPOCHS = 50;
const DEFAULT_BATCH = 100;
const DEFAULT_LR = 3e-3;
/** Images per forward pass when scoring. */
const SCORE_BATCH = 1000;
/** Rng streams derived from the seed. */
const ORDER_STREAM = 0x6f7264;
const INIT_STREAM = 0x696e69;

/**
 * Layers with the sizes and activations of `layers`, Glorot-uniform weights and zero biases drawn
 * from `rng`: the random-initialisation baseline of a pretrained stack.
 */
export function randomInitLayers(layers: readonly DenseLayerValues[], rng: Rng): DenseLayerValues[] {
  return layers.map((l) => {
    const weight = new Float32Array(l.inputs * l.outputs);
    glorotUniform(rng, l.inputs, l.outputs, weight);
    return { ...l, weight, bias: new Float32Array(l.outputs) };
  });
}

/**
 * Trains `layers` (copied, not modified) under a zero-initialised softmax head on `labelled`, all
 * layers jointly by mean cross-entropy with Adam, the batch order drawn from `opts.seed`. With no
 * layers it is multinomial logistic regression on the pixels.
 */
export function finetuneClassifier(
  layers: readonly DenseLayerValues[],
  labelled: LabelledImages,
  opts: FinetuneOptions,
): FinetunedClassifier {
  const { count, labels } = labelled;
  const epochs = positiveInteger('finetune-epochs', opts.epochs ?? DEFAULT_EPOCHS);
  const batchSize = positiveInteger('finetune-batch-size', opts.batchSize ?? DEFAULT_BATCH);
  const lr = opts.lr ?? DEFAULT_LR;
  if (!(lr > 0)) throw new ConfigError('finetune-lr', `must be positive, got ${lr}`);
  if (count < 1 || labels.length < count) {
    throw new ConfigError('finetune', `need at least one image and a label per image, got ${count}`);
  }
  const dim = layers[0]?.inputs ?? labelled.images.length / count;
  if (!Number.isInteger(dim) || labelled.images.length !== count * dim) {
    throw new ConfigError('finetune', `${labelled.images.length} values are not ${count} images of ${dim}`);
  }
  checkStack(layers);
  let maxLabel = 0;
  for (let i = 0; i < count; i++) maxLabel = Math.max(maxLabel, labels[i]!);
  const classes = opts.classes ?? maxLabel + 1;
  if (maxLabel >= classes) {
    throw new ConfigError('finetune', `label ${maxLabel} out of range for ${classes} classes`);
  }
  const codeSize = layers.length > 0 ? layers[layers.length - 1]!.outputs : dim;
  const head: DenseLayerValues = {
    inputs: codeSize,
    outputs: classes,
    weight: new Float32Array(codeSize * classes),
    bias: new Float32Array(classes),
    activation: 'linear',
  };
  const all = [...layers, head];
  const acts = all.map((l) => l.activation);

  const adam = new TensorAdam(
    all.flatMap((l) => [tf.tensor2d(l.weight, [l.inputs, l.outputs]), tf.tensor1d(l.bias)]),
  );
  // Each batch's rows are copied out here: tfjs's gather runs in JavaScript on every backend and
  // took more time than the training itself (4 of 7 s for the first command's two fine-tunes).
  const xb = new Float32Array(batchSize * dim);
  const yb = new Float32Array(batchSize * classes);
  const lossOf = (xb: tf.Tensor2D, yb: tf.Tensor2D) =>
    tf.valueAndGrads((...p: tf.Tensor[]) =>
      tf.neg(tf.mean(tf.sum(tf.mul(yb, tf.logSoftmax(forward(xb, p, acts))), 1))),
    );

  const rng = new Rng(deriveSeed(opts.seed, ORDER_STREAM));
  const order = Int32Array.from({ length: count }, (_, i) => i);
  const epochLosses = new Float64Array(epochs);
  try {
    for (let e = 0; e < epochs; e++) {
      rng.shuffle(order);
      let sum = 0;
      let batches = 0;
      for (let start = 0; start < count; start += batchSize) {
        const rows = Math.min(batchSize, count - start);
        yb.fill(0);
        for (let r = 0; r < rows; r++) {
          const i = order[start + r]!;
          xb.set(labelled.images.subarray(i * dim, (i + 1) * dim), r * dim);
          yb[r * classes + labels[i]!] = 1;
        }
        const loss = adam.step(lr, (params) =>
          lossOf(
            matrix(xb.subarray(0, rows * dim), rows, dim),
            matrix(yb.subarray(0, rows * classes), rows, classes),
          )(params),
        );
        sum += loss.dataSync()[0]!;
        loss.dispose();
        batches++;
      }
      epochLosses[e] = sum / batches;
    }
    const trained = all.map((l, i) => ({
      ...l,
      weight: adam.params[2 * i]!.dataSync() as Float32Array,
      bias: adam.params[2 * i + 1]!.dataSync() as Float32Array,
    }));
    return { layers: trained.slice(0, -1), head: trained[trained.length - 1]!, classes, epochLosses };
  } finally {
    adam.dispose();
  }
}

/** Predicted class of each of `count` rows of pixels. */
export function classifierPredict(
  classifier: FinetunedClassifier,
  images: Float32Array,
  count: number,
): Int32Array {
  return withNetwork(classifier, (predict) => {
    const out = new Int32Array(count);
    for (let start = 0; start < count; start += SCORE_BATCH) {
      const rows = Math.min(SCORE_BATCH, count - start);
      out.set(predict(images.subarray(start * predict.dim, (start + rows) * predict.dim), rows), start);
    }
    return out;
  });
}

/** Fraction of the labelled images of `set` the classifier gets right. */
export function classifierAccuracy(classifier: FinetunedClassifier, set: ImageSet): number {
  const labels = set.labels;
  if (!labels) throw new DataError('DATA_FORMAT', `${set.name} has no labels to measure accuracy on`);
  if (set.count === 0) return NaN;
  return withNetwork(classifier, (predict) => {
    if (pixelsPerImage(set.shape) !== predict.dim) {
      throw new HarmoniumError(
        'MODEL_INVALID',
        `${set.name} has ${pixelsPerImage(set.shape)} pixels per image, the classifier takes ${predict.dim}`,
      );
    }
    let right = 0;
    forEachBatch(set, SCORE_BATCH, (batch, rows, start) => {
      const pred = predict(batch, rows);
      for (let i = 0; i < rows; i++) if (pred[i] === labels[start + i]) right++;
    });
    return right / set.count;
  });
}

/**
 * Fine-tunes `layers` and, by the same procedure, the same architecture from random weights
 * (drawn from `opts.seed`), on `labelled`; returns both accuracies on `test`.
 */
export function finetuneReport(
  layers: readonly DenseLayerValues[],
  labelled: LabelledImages,
  test: ImageSet,
  opts: FinetuneOptions,
): FinetuneReport {
  const random = randomInitLayers(layers, new Rng(deriveSeed(opts.seed, INIT_STREAM)));
  return {
    finetune_accuracy: classifierAccuracy(finetuneClassifier(layers, labelled, opts), test),
    finetune_random_init_accuracy: classifierAccuracy(finetuneClassifier(random, labelled, opts), test),
  };
}

/** Logits of `x` through `params` (w, b per layer) with activations `acts`. */
function forward(
  x: tf.Tensor2D,
  params: readonly tf.Tensor[],
  acts: readonly DenseLayerValues['activation'][],
) {
  let h = x;
  for (let i = 0; i < acts.length; i++) {
    h = activate(acts[i]!, dense(h, params[2 * i] as tf.Tensor2D, params[2 * i + 1] as tf.Tensor1D));
  }
  return h;
}

type Predict = ((batch: Float32Array, rows: number) => Int32Array) & { readonly dim: number };

/** Runs `fn` with a predictor over the classifier's weights as tensors, disposed afterwards. */
function withNetwork<T>(classifier: FinetunedClassifier, fn: (predict: Predict) => T): T {
  const all = [...classifier.layers, classifier.head];
  const dim = all[0]!.inputs;
  const acts = all.map((l) => l.activation);
  const params = all.flatMap((l) => [tf.tensor2d(l.weight, [l.inputs, l.outputs]), tf.tensor1d(l.bias)]);
  const predict = Object.assign(
    (batch: Float32Array, rows: number): Int32Array => {
      const pred = tf.tidy(() => tf.argMax(forward(matrix(batch, rows, dim), params, acts), 1));
      try {
        return pred.dataSync() as Int32Array;
      } finally {
        pred.dispose();
      }
    },
    { dim },
  );
  try {
    return fn(predict);
  } finally {
    tf.dispose(params);
  }
}

/** Throws unless consecutive layers fit and every weight and bias has its layer's size. */
function checkStack(layers: readonly DenseLayerValues[]): void {
  for (let i = 0; i < layers.length; i++) {
    const l = layers[i]!;
    if (l.weight.length !== l.inputs * l.outputs || l.bias.length !== l.outputs) {
      throw new HarmoniumError(
        'MODEL_INVALID',
        `encoder layer ${i} (${l.inputs}->${l.outputs}) has ${l.weight.length} weights and ${l.bias.length} biases`,
      );
    }
    const next = layers[i + 1];
    if (next && next.inputs !== l.outputs) {
      throw new HarmoniumError(
        'MODEL_INVALID',
        `encoder layer ${i} outputs ${l.outputs} values but layer ${i + 1} takes ${next.inputs}`,
      );
    }
  }
}

function positiveInteger(field: string, n: number): number {
  if (!Number.isInteger(n) || n < 1) throw new ConfigError(field, `must be a positive integer, got ${n}`);
  return n;
}
