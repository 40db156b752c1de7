import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { selectBackend } from '../compute/backend.js';
import { tf } from '../compute/tf.js';
import { Rng } from '../data/rng.js';
import { ConfigError } from '../errors.js';
import type { HyperSpec } from './hyper.js';
import { flatLength } from './model.js';
import { MODEL_ENTRIES, findModel } from './registry.js';

before(async () => {
  await selectBackend('cpu');
});

/** Whether a spec's default satisfies the spec itself. */
function defaultIsValid(s: HyperSpec): boolean {
  const inRange = (x: number): boolean =>
    (s.min === undefined || x >= s.min) && (s.max === undefined || x <= s.max);
  switch (s.type) {
    case 'int':
      return typeof s.default === 'number' && Number.isInteger(s.default) && inRange(s.default);
    case 'float':
      return typeof s.default === 'number' && inRange(s.default);
    case 'bool':
      return typeof s.default === 'boolean';
    case 'enum':
      return typeof s.default === 'string' && (s.values ?? []).includes(s.default);
    case 'int-list':
      return Array.isArray(s.default) && s.default.every((x: number) => Number.isInteger(x) && inRange(x));
  }
}

describe('model registry', () => {
  it('lists the thirteen kinds once each, with kebab-case hypers whose defaults are valid', () => {
    assert.deepEqual(
      MODEL_ENTRIES.map((e) => e.kind),
      [
        'ae',
        'sparse-ae',
        'denoising-ae',
        'contractive-ae',
        'conv-ae',
        'seq2seq-ae',
        'stacked-ae',
        'deep-ae',
        'vae',
        'rbm',
        'dbn',
        'gan',
        'dcgan',
      ],
    );
    for (const e of MODEL_ENTRIES) {
      assert.ok(e.summary.length > 0 && !e.summary.includes('\n'), e.kind);
      for (const s of e.hypers) {
        assert.match(s.name, /^[a-z]+(-[a-z]+)*$/, `${e.kind} ${s.name}`);
        assert.ok(defaultIsValid(s), `${e.kind} --${s.name} default ${String(s.default)}`);
      }
    }
  });

  it('uses Adam for the autoencoders and the VAE, and Hinton momentum SGD for the RBM', () => {
    assert.equal(findModel('vae').training.optimizer, 'adam');
    assert.deepEqual(findModel('rbm').training, {
      optimizer: 'sgd',
      lr: 0.1,
      momentum: 0.5,
      finalMomentum: 0.9,
      momentumSwitchEpoch: 5,
    });
    assert.deepEqual(findModel('dbn').training, findModel('rbm').training);
  });

  it('trains both GANs with Adam at 2e-4 and beta1 0.5 (Radford et al.)', () => {
    for (const kind of ['gan', 'dcgan']) {
      const t = findModel(kind).training;
      assert.deepEqual([t.optimizer, t.lr, t.beta1], ['adam', 2e-4, 0.5], kind);
    }
  });

  it('builds every kind from its defaults and takes a step', () => {
    const inputSize = 16;
    const batch = new Rng(1).fillUniform(new Float32Array(2 * inputSize));
    for (const e of MODEL_ENTRIES) {
      const model = e.create(inputSize, {});
      assert.equal(model.kind, e.kind);
      assert.deepEqual(Object.keys(model.hyper).sort(), e.hypers.map((s) => s.name).sort());
      const params = model.init(new Rng(2));
      assert.equal(params.length, flatLength(model.paramSpecs));
      const before = tf.memory().numTensors;
      const r = model.step(params, batch, 2, new Rng(3));
      assert.equal(tf.memory().numTensors, before, e.kind);
      assert.equal(r.grads.length, params.length);
      assert.ok(Number.isFinite(r.loss), e.kind);
      // The same step into a buffer the caller owns: written there, same values.
      const out = new Float32Array(params.length).fill(NaN);
      const again = model.step(params, batch, 2, new Rng(3), out);
      assert.equal(again.grads, out, e.kind);
      assert.deepEqual(again.grads, r.grads, e.kind);
      assert.throws(() => model.step(params, batch, 2, new Rng(3), new Float32Array(1)), RangeError);
    }
  });

  it('names the known kinds when asked for an unknown one', () => {
    assert.throws(
      () => findModel('pixelcnn'),
      (err: unknown) =>
        err instanceof ConfigError && err.field === 'model' && err.message.includes('contractive-ae'),
    );
  });

  it('rejects out-of-range hyperparameters even without the config layer', () => {
    assert.throws(() => findModel('rbm').create(16, { k: 0 }), ConfigError);
    assert.throws(() => findModel('ae').create(16, { activation: 'softmax' }), ConfigError);
  });
});
