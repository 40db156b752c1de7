import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { selectBackend } from './backend.js';
import { tensorValues } from './tensor-values.js';
import { tf } from './tf.js';

describe('tensorValues', () => {
  it('returns a copy of the values and disposes every tensor made', async () => {
    await selectBackend('cpu');
    const before = tf.memory().numTensors;
    const v = tensorValues(() => tf.add(tf.tensor1d([1, 2, 3]), tf.scalar(1)));
    assert.deepEqual(Array.from(v), [2, 3, 4]);
    assert.ok(v instanceof Float32Array);
    assert.equal(tf.memory().numTensors, before);
  });
});
