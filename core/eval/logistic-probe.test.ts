import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { before, describe, it } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { selectBackend } from '../compute/backend.js';
import { Rng } from '../data/rng.js';
import { probeAccuracy, probePredict, selectLabelledSubset, trainProbe } from './logistic-probe.js';

const FASHION = '/usr/share/datasets/fashion-mnist/';

/** Payload of an IDX file: after a 16-byte header for images, 8 for labels. */
function readIdx(file: string): Uint8Array {
  const b = gunzipSync(readFileSync(FASHION + file));
  return b.subarray(4 + 4 * b[3]!);
}

before(async () => {
  await selectBackend('wasm');
});

describe('selectLabelledSubset', () => {
  const labels = Uint8Array.from({ length: 1000 }, (_, i) => (i * 7) % 10);

  it('takes perClass of every class, deterministically, ascending', () => {
    const a = selectLabelledSubset(labels, 20, 3);
    assert.equal(a.length, 200);
    const perClass = new Array<number>(10).fill(0);
    for (const i of a) perClass[labels[i]!]!++;
    assert.deepEqual(perClass, new Array<number>(10).fill(20));
    assert.equal(new Set(a).size, 200);
    for (let i = 1; i < a.length; i++) assert.ok(a[i - 1]! < a[i]!);
    assert.deepEqual(selectLabelledSubset(labels, 20, 3), a);
    assert.notDeepEqual(selectLabelledSubset(labels, 20, 4), a);
  });

  it('takes all of a class smaller than perClass and rejects perClass < 1', () => {
    const few = Uint8Array.from([0, 0, 1, 1, 1, 1, 1]);
    const a = selectLabelledSubset(few, 3, 0);
    assert.equal(a.filter((i) => few[i] === 0).length, 2);
    assert.equal(a.filter((i) => few[i] === 1).length, 3);
    assert.throws(() => selectLabelledSubset(few, 0, 0), /positive integer/);
  });
});

describe('trainProbe', () => {
  it('separates linearly separable classes perfectly and converges', () => {
    // Three classes around far-apart centres in 4-D, with an uninformative constant feature.
    const rng = new Rng(5);
    const centres = [
      [4, 0, 0],
      [0, 4, 0],
      [0, 0, 4],
    ];
    const count = 300;
    const x = new Float32Array(count * 4);
    const y = new Uint8Array(count);
    for (let i = 0; i < count; i++) {
      y[i] = i % 3;
      for (let j = 0; j < 3; j++) x[i * 4 + j] = centres[y[i]!]![j]! + 0.5 * rng.normal();
      x[i * 4 + 3] = 1;
    }
    const probe = trainProbe(x, y, count, 4, { l2: 1e-3 });
    assert.ok(probe.converged, `stopped after ${probe.iterations} iterations`);
    assert.equal(probeAccuracy(probe, x, y, count), 1);
    assert.ok(probe.loss < 0.1, `loss ${probe.loss}`);
    // Predictions follow the centres, not the constant feature.
    assert.deepEqual(Array.from(probePredict(probe, Float32Array.from([5, 0, 0, 1, 0, 0, 5, 1]), 2)), [0, 2]);
  });

  it('rejects labels beyond the class count', () => {
    assert.throws(
      () => trainProbe(new Float32Array(2), Uint8Array.from([0, 3]), 2, 1, { classes: 3 }),
      /out of range/,
    );
  });

  it('on raw Fashion-MNIST pixels with 100 labels per class comes near the 79.7% reference', () => {
    const trainX = readIdx('train-images-idx3-ubyte.gz');
    const trainY = readIdx('train-labels-idx1-ubyte.gz');
    const testX = Float32Array.from(readIdx('t10k-images-idx3-ubyte.gz'), (v) => v / 255);
    const testY = readIdx('t10k-labels-idx1-ubyte.gz');
    const chosen = selectLabelledSubset(trainY, 100, 0);
    const x = new Float32Array(chosen.length * 784);
    chosen.forEach((i, r) => {
      for (let j = 0; j < 784; j++) x[r * 784 + j] = trainX[i * 784 + j]! / 255;
    });
    const y = Uint8Array.from(chosen, (i) => trainY[i]!);
    const t = performance.now();
    const probe = trainProbe(x, y, chosen.length, 784);
    const ms = performance.now() - t;
    const acc = probeAccuracy(probe, testX, testY, 10000);
    console.log(
      `raw-pixel probe, 100 labels/class: test accuracy ${acc}, ${probe.iterations} iterations, ${ms.toFixed(0)} ms`,
    );
    assert.ok(probe.converged);
    assert.ok(acc > 0.75 && acc < 0.85, `accuracy ${acc}`);
  });
});
