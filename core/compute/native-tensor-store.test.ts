import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { selectBackend } from './backend.js';
import { NativeTensorStore } from './native-tensor-store.js';
import { copyTensorInto } from './tensor-values.js';
import { tf } from './tf.js';

function store(): NativeTensorStore {
  const b = tf.backend();
  assert.ok(b instanceof NativeTensorStore);
  return b;
}

function valuesOf(t: tf.Tensor): Float32Array {
  return store().data.get(t.dataId).values as Float32Array;
}

const a = Float32Array.from({ length: 1000 }, (_, i) => Math.sin(i) * 3);

before(async () => {
  await selectBackend('native', { threads: 1 });
});

describe('the native backend recycles kernel outputs', () => {
  it('hands a disposed, unseen output to the next kernel of the same size', () => {
    const x = tf.tensor(a, [10, 100]);
    const first = tf.relu(x);
    const array = valuesOf(first);
    first.dispose();
    const second = tf.neg(x);
    assert.equal(valuesOf(second), array, 'the same array, reused');
    const out = new Float32Array(1000);
    copyTensorInto(second, out, 0);
    assert.deepEqual(
      out,
      a.map((v) => -v),
    );
    tf.dispose([x, second]);
  });

  it('never reuses an array whose values were read out (dataSync)', () => {
    const x = tf.tensor(a, [10, 100]);
    const t = tf.relu(x);
    const seen = t.dataSync() as Float32Array;
    const copy = Float32Array.from(seen);
    t.dispose();
    const other = tf.neg(x);
    assert.notEqual(valuesOf(other), seen);
    assert.deepEqual(seen, copy, 'what user code holds is left alone');
    tf.dispose([x, other]);
  });

  it('keeps an output alive while a view of it (a slice) is stored', () => {
    const x = tf.tensor(a, [10, 100]);
    const full = tf.relu(x);
    const rows = tf.slice(full, [0, 0], [5, 100]);
    assert.equal(valuesOf(rows).buffer, valuesOf(full).buffer, 'tfjs slices rows as a view');
    full.dispose();
    const other = tf.neg(x);
    assert.notEqual(valuesOf(other).buffer, valuesOf(rows).buffer);
    const out = new Float32Array(500);
    copyTensorInto(rows, out, 0);
    assert.deepEqual(
      out,
      a.subarray(0, 500).map((v) => Math.max(v, 0)),
    );
    tf.dispose([x, rows, other]);
  });

  it('keeps results right over many training-like steps', () => {
    const w = tf.tensor(a.subarray(0, 100 * 10), [100, 10]);
    const x = tf.tensor(a, [10, 100]);
    const step = (): Float32Array => {
      const g = tf.tidy(() =>
        tf.grad((wt: tf.Tensor) => tf.sum(tf.sigmoid(tf.matMul(x, wt as tf.Tensor2D))))(w),
      );
      const out = new Float32Array(g.size);
      copyTensorInto(g, out, 0);
      g.dispose();
      return out;
    };
    const firstRun = step();
    for (let i = 0; i < 20; i++) assert.deepEqual(step(), firstRun);
    tf.dispose([w, x]);
  });
});
