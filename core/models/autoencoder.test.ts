import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { selectBackend } from '../compute/backend.js';
import { tf } from '../compute/tf.js';
import { Rng } from '../data/rng.js';
import { ConfigError } from '../errors.js';
import { createAutoencoder } from './autoencoder.js';
import type { HyperValues } from './hyper.js';
import { flatLength } from './model.js';
import { barsImages, checkGradient, train } from './testing.js';

type AeKind = 'ae' | 'sparse-ae' | 'denoising-ae' | 'contractive-ae';

const INPUT = 6;
const BATCH = 3;

before(async () => {
  await selectBackend('cpu');
});

/** Gradient of the step loss against central differences, with the step's noise fixed by the seed. */
function assertGradient(kind: AeKind, hyper: HyperValues): void {
  const model = createAutoencoder(kind, INPUT, hyper);
  const params = model.init(new Rng(1));
  const batch = new Rng(2).fillUniform(new Float32Array(BATCH * INPUT));
  const { grads } = model.step(params, batch, BATCH, new Rng(7));
  const r = checkGradient((p) => model.step(p, batch, BATCH, new Rng(7)).loss, params, grads, 1e-2);
  assert.ok(
    r.relativeError < 2e-3 && r.worstRatio <= 1,
    `${kind} ${JSON.stringify(hyper)}: ${JSON.stringify(r)}`,
  );
}

describe('autoencoder gradients (central differences, float32)', () => {
  it('ae: sigmoid hidden, linear code, cross-entropy', () => {
    assertGradient('ae', { layers: [4, 3] });
  });
  it('ae: tanh hidden, sigmoid code, tied weights, mse', () => {
    assertGradient('ae', {
      layers: [4, 3],
      activation: 'tanh',
      'code-activation': 'sigmoid',
      tied: true,
      loss: 'mse',
    });
  });
  it('ae: relu hidden, untied, mse', () => {
    assertGradient('ae', { layers: [5, 3], activation: 'relu', loss: 'mse' });
  });
  it('ae: overcomplete single layer', () => {
    assertGradient('ae', { layers: [9], 'code-activation': 'tanh' });
  });
  it('sparse-ae: L1 on a sigmoid code', () => {
    assertGradient('sparse-ae', { layers: [4, 3], 'code-activation': 'sigmoid', sparsity: 0.1 });
  });
  it('denoising-ae: masking noise, fixed draw', () => {
    assertGradient('denoising-ae', { layers: [4, 3], noise: 'masking', 'noise-rate': 0.3 });
  });
  it('denoising-ae: gaussian noise, fixed draw', () => {
    assertGradient('denoising-ae', { layers: [4, 3], noise: 'gaussian', 'noise-rate': 0.2, tied: true });
  });
  it('contractive-ae: untied and tied', () => {
    assertGradient('contractive-ae', { layers: [5], contraction: 0.5 });
    assertGradient('contractive-ae', { layers: [5], contraction: 0.5, tied: true, loss: 'mse' });
  });
});

describe('contractive penalty', () => {
  it('equals lambda times the mean squared Frobenius norm of a finite-difference Jacobian', () => {
    const lambda = 0.5;
    const code = 5;
    const model = createAutoencoder('contractive-ae', INPUT, { layers: [code], contraction: lambda });
    const params = model.init(new Rng(3));
    const batch = new Rng(4).fillUniform(new Float32Array(BATCH * INPUT));
    const { extras } = model.step(params, batch, BATCH, new Rng(0));
    assert.ok(extras && extras['penalty'] !== undefined && extras['reconstruction'] !== undefined);
    const eps = 1e-2;
    let frob = 0;
    for (let r = 0; r < BATCH; r++) {
      const x = batch.slice(r * INPUT, (r + 1) * INPUT);
      for (let i = 0; i < INPUT; i++) {
        const up = Float32Array.from(x);
        const down = Float32Array.from(x);
        up[i] = up[i]! + eps;
        down[i] = down[i]! - eps;
        const hu = model.encode(params, up, 1);
        const hd = model.encode(params, down, 1);
        for (let j = 0; j < code; j++) frob += ((hu[j]! - hd[j]!) / (2 * eps)) ** 2;
      }
    }
    const expected = (lambda * frob) / BATCH;
    assert.ok(
      Math.abs(extras['penalty']! - expected) < 1e-3 * Math.max(1, expected),
      `${extras['penalty']} vs ${expected}`,
    );
  });

  it('rejects more than one layer', () => {
    assert.throws(() => createAutoencoder('contractive-ae', INPUT, { layers: [4, 3] }), ConfigError);
  });
});

describe('autoencoder structure', () => {
  it('tied decoders hold only biases; codes, decodings and reconstructions agree', () => {
    const untied = createAutoencoder('ae', INPUT, { layers: [4, 3] });
    const tied = createAutoencoder('ae', INPUT, { layers: [4, 3], tied: true });
    assert.equal(flatLength(untied.paramSpecs), 6 * 4 + 4 + 4 * 3 + 3 + 3 * 4 + 4 + 4 * 6 + 6);
    assert.equal(flatLength(tied.paramSpecs), 6 * 4 + 4 + 4 * 3 + 3 + 4 + 6);
    const params = untied.init(new Rng(5));
    const batch = new Rng(6).fillUniform(new Float32Array(BATCH * INPUT));
    const codes = untied.encode(params, batch, BATCH);
    assert.equal(codes.length, BATCH * 3);
    assert.deepEqual(untied.reconstruct(params, batch, BATCH), untied.decode(params, codes, BATCH));
    const ev = untied.evaluate(params, batch, BATCH);
    assert.ok(ev['reconstruction_loss']! > 0);
    assert.deepEqual(Object.keys(ev), ['reconstruction_loss']);
  });

  it('leaks no tensors', () => {
    const kinds: [AeKind, HyperValues][] = [
      ['ae', { layers: [4, 3] }],
      ['sparse-ae', { layers: [8] }],
      ['denoising-ae', { layers: [4, 3], tied: true }],
      ['contractive-ae', { layers: [5] }],
    ];
    for (const [kind, hyper] of kinds) {
      const model = createAutoencoder(kind, INPUT, hyper);
      const params = model.init(new Rng(1));
      const batch = new Rng(2).fillUniform(new Float32Array(BATCH * INPUT));
      const before = tf.memory().numTensors;
      model.step(params, batch, BATCH, new Rng(3));
      const codes = model.encode(params, batch, BATCH);
      model.decode(params, codes, BATCH);
      model.reconstruct(params, batch, BATCH);
      model.evaluate(params, batch, BATCH);
      assert.equal(tf.memory().numTensors, before, kind);
    }
  });
});

describe('autoencoder training', () => {
  const side = 4;
  const count = 64;
  const data = barsImages(side, count, new Rng(11));
  const cases: [AeKind, HyperValues][] = [
    ['ae', { layers: [12, 6] }],
    ['sparse-ae', { layers: [24], sparsity: 1e-2 }],
    ['denoising-ae', { layers: [12, 6], 'noise-rate': 0.2 }],
    ['contractive-ae', { layers: [12], contraction: 0.05 }],
  ];
  for (const [kind, hyper] of cases) {
    it(`${kind}: loss falls within 400 Adam steps`, () => {
      const model = createAutoencoder(kind, side * side, hyper);
      const params = model.init(new Rng(1));
      const r = train(model, params, data, count, {
        epochs: 100,
        batchSize: 16,
        lr: 1e-2,
        adam: true,
        rng: new Rng(2),
      });
      assert.ok(r.last < 0.8 * r.first, `${kind}: ${r.first} -> ${r.last}`);
    });
  }
});
