import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { selectBackend } from '../compute/backend.js';
import { tf } from '../compute/tf.js';
import type { ImageSet } from '../data/corpus.js';
import { Rng } from '../data/rng.js';
import type { DenseLayerValues } from '../models/model.js';
import type { LabelledImages } from './finetune.js';
import {
  classifierAccuracy,
  classifierPredict,
  finetuneClassifier,
  finetuneReport,
  randomInitLayers,
} from './finetune.js';

const SIDE = 4;
const DIM = SIDE * SIDE;
const CLASSES = 4;

/** One random binary 4x4 pattern per class; images are a pattern plus N(0, 0.25²) noise, clipped. */
function prototypes(seed: number): Float32Array[] {
  const rng = new Rng(seed);
  return Array.from({ length: CLASSES }, () =>
    Float32Array.from({ length: DIM }, () => (rng.uniform() < 0.5 ? 0 : 1)),
  );
}

/** `count` labelled images of the prototypes' classes in turn, noise drawn from `seed`. */
function synthetic(protos: Float32Array[], count: number, seed: number): LabelledImages {
  const rng = new Rng(seed);
  const images = new Float32Array(count * DIM);
  const labels = new Uint8Array(count);
  for (let i = 0; i < count; i++) {
    labels[i] = i % CLASSES;
    for (let j = 0; j < DIM; j++) {
      const v = protos[labels[i]!]![j]! + 0.25 * rng.normal();
      // Quantised as an ImageSet stores them, so the training and test images match.
      images[i * DIM + j] = Math.round(255 * Math.min(1, Math.max(0, v))) / 255;
    }
  }
  return { images, labels, count };
}

function asImageSet(data: LabelledImages): ImageSet {
  return {
    name: 'synthetic/test',
    shape: { height: SIDE, width: SIDE, channels: 1 },
    count: data.count,
    pixels: Uint8Array.from(data.images, (v) => Math.round(v * 255)),
    labels: data.labels,
  };
}

/** A Glorot-uniform stack of sigmoid layers of `sizes`, the last (the code) linear. */
function stack(sizes: readonly number[], seed: number): DenseLayerValues[] {
  const shapes = sizes.slice(1).map((outputs, i) => ({
    inputs: sizes[i]!,
    outputs,
    weight: new Float32Array(sizes[i]! * outputs),
    bias: new Float32Array(outputs),
    activation: i === sizes.length - 2 ? ('linear' as const) : ('sigmoid' as const),
  }));
  return randomInitLayers(shapes, new Rng(seed));
}

/** Float64 forward pass and argmax of a classifier's weights: the reference for classifierPredict. */
function referencePredict(layers: readonly DenseLayerValues[], x: Float32Array, count: number): Int32Array {
  const out = new Int32Array(count);
  for (let n = 0; n < count; n++) {
    let h = Array.from(x.subarray(n * layers[0]!.inputs, (n + 1) * layers[0]!.inputs));
    for (const l of layers) {
      const z = Array.from(l.bias);
      for (let i = 0; i < l.inputs; i++)
        for (let j = 0; j < l.outputs; j++) z[j]! += h[i]! * l.weight[i * l.outputs + j]!;
      h = z.map((v) => (l.activation === 'sigmoid' ? 1 / (1 + Math.exp(-v)) : v));
    }
    out[n] = h.indexOf(Math.max(...h));
  }
  return out;
}

const protos = prototypes(1);
const train = synthetic(protos, 200, 2);
const testData = synthetic(protos, 400, 3);
const test = asImageSet(testData);

before(async () => {
  await selectBackend('native', { threads: 1 });
});

describe('finetuneClassifier', () => {
  it('learns a separable problem through a random 16-12-6 stack, its loss falling', () => {
    const c = finetuneClassifier(stack([DIM, 12, 6], 4), train, {
      seed: 5,
      epochs: 60,
      batchSize: 20,
      lr: 1e-2,
    });
    assert.ok(
      c.epochLosses[59]! < 0.2 * c.epochLosses[0]!,
      `losses ${c.epochLosses[0]} -> ${c.epochLosses[59]}`,
    );
    const acc = classifierAccuracy(c, test);
    assert.ok(acc > 0.95, `accuracy ${acc}`);
  });

  it('with no layers is logistic regression on the pixels; predictions match a float64 forward pass', () => {
    const c = finetuneClassifier([], train, { seed: 5, epochs: 20, batchSize: 20, lr: 1e-2 });
    assert.equal(c.layers.length, 0);
    assert.equal(c.head.inputs, DIM);
    assert.ok(classifierAccuracy(c, test) > 0.95);
    const deep = finetuneClassifier(stack([DIM, 12, 6], 4), train, { seed: 5, epochs: 2 });
    for (const net of [c, deep]) {
      assert.deepEqual(
        classifierPredict(net, testData.images, testData.count),
        referencePredict([...net.layers, net.head], testData.images, testData.count),
      );
    }
  });

  it('takes one Adam step of lr · sign(gradient) on the zero head, leaving the body as it was', () => {
    // One batch, one epoch: the head starts at zero, so the body's gradient is zero and the head's
    // is hᵀ(softmax(0) − y) / n; Adam's first step is lr · sign(g) wherever |g| ≫ its epsilon.
    const layers = stack([DIM, 5], 6).map((l) => ({ ...l, activation: 'sigmoid' as const }));
    const lr = 0.01;
    const c = finetuneClassifier(layers, train, { seed: 1, epochs: 1, batchSize: train.count, lr });
    assert.deepEqual(c.layers[0]!.weight, layers[0]!.weight);
    assert.deepEqual(c.layers[0]!.bias, layers[0]!.bias);
    const l = layers[0]!;
    let checked = 0;
    for (let k = 0; k < l.outputs; k++) {
      for (let cls = 0; cls < CLASSES; cls++) {
        let g = 0;
        for (let n = 0; n < train.count; n++) {
          let z = l.bias[k]!;
          for (let i = 0; i < DIM; i++) z += train.images[n * DIM + i]! * l.weight[i * l.outputs + k]!;
          g += (1 / (1 + Math.exp(-z))) * (1 / CLASSES - (train.labels[n] === cls ? 1 : 0));
        }
        g /= train.count;
        if (Math.abs(g) < 1e-4) continue;
        checked++;
        assert.ok(Math.abs(c.head.weight[k * CLASSES + cls]! + lr * Math.sign(g)) < 1e-6, `head ${k},${cls}`);
      }
    }
    assert.ok(checked >= 15, `only ${checked} head weights had a clear gradient`);
    assert.equal(c.epochLosses[0]!.toFixed(5), Math.log(CLASSES).toFixed(5));
  });

  it('from a stack that already separates the classes starts ahead of random initialisation', () => {
    // One sigmoid unit per class: z = 2(2p − 1)·x − 2|p| + 2 is 2 on its prototype p and 2 − 2·(Hamming
    // distance) on another.
    const weight = new Float32Array(DIM * CLASSES);
    const bias = new Float32Array(CLASSES);
    protos.forEach((p, k) => {
      for (let i = 0; i < DIM; i++) weight[i * CLASSES + k] = 2 * (2 * p[i]! - 1);
      bias[k] = 2 - 2 * p.reduce((s, v) => s + v, 0);
    });
    const separating: DenseLayerValues[] = [
      { inputs: DIM, outputs: CLASSES, weight, bias, activation: 'sigmoid' },
    ];
    const opts = { seed: 7, epochs: 1, batchSize: 20, lr: 1e-2 };
    const pre = finetuneClassifier(separating, train, opts);
    const rand = finetuneClassifier(randomInitLayers(separating, new Rng(8)), train, opts);
    assert.ok(pre.epochLosses[0]! < rand.epochLosses[0]!, `${pre.epochLosses[0]} vs ${rand.epochLosses[0]}`);
    const preAcc = classifierAccuracy(pre, test);
    const randAcc = classifierAccuracy(rand, test);
    assert.ok(preAcc > randAcc + 0.3, `pretrained ${preAcc}, random ${randAcc}`);
  });

  it('is deterministic given the seed', () => {
    const layers = stack([DIM, 8, 3], 9);
    const a = finetuneClassifier(layers, train, { seed: 11, epochs: 3, batchSize: 30 });
    const b = finetuneClassifier(layers, train, { seed: 11, epochs: 3, batchSize: 30 });
    const other = finetuneClassifier(layers, train, { seed: 12, epochs: 3, batchSize: 30 });
    assert.deepEqual(a, b);
    assert.notDeepEqual(a.layers[0]!.weight, other.layers[0]!.weight);
    assert.deepEqual(layers, stack([DIM, 8, 3], 9), 'the given layers are not modified');
  });

  it('rejects mismatched layers, images and labels', () => {
    const layers = stack([DIM, 8, 3], 9);
    assert.throws(
      () => finetuneClassifier([layers[0]!, stack([DIM, 5, 3], 0)[1]!], train, { seed: 0 }),
      /outputs 8 values but layer 1 takes 5/,
    );
    assert.throws(
      () => finetuneClassifier(stack([DIM + 1, 3], 0), train, { seed: 0 }),
      /not 200 images of 17/,
    );
    assert.throws(() => finetuneClassifier(layers, train, { seed: 0, classes: 2 }), /out of range/);
    assert.throws(() => finetuneClassifier(layers, train, { seed: 0, epochs: 0 }), /finetune-epochs/);
  });
});

describe('finetuneReport', () => {
  it('gives both accuracies, deterministically, and leaves no tensors behind', () => {
    const layers = stack([DIM, 8, 3], 13);
    const opts = { seed: 3, epochs: 5, batchSize: 50 };
    const before = tf.memory().numTensors;
    const r = finetuneReport(layers, train, test, opts);
    assert.equal(tf.memory().numTensors, before);
    assert.deepEqual(Object.keys(r).sort(), ['finetune_accuracy', 'finetune_random_init_accuracy']);
    for (const v of Object.values(r)) assert.ok(v >= 0 && v <= 1);
    assert.deepEqual(finetuneReport(layers, train, test, opts), r);
    assert.throws(() => finetuneReport(layers, train, { ...test, labels: null }, opts), /no labels/);
  });
});
