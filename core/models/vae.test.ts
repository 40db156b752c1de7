import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { selectBackend } from '../compute/backend.js';
import { tf } from '../compute/tf.js';
import { Rng } from '../data/rng.js';
import { paramOffsets } from './model.js';
import { barsImages, checkGradient, train } from './testing.js';
import { GAUSSIAN_DECODER_STD } from './model-catalogue.js';
import { createVae } from './vae.js';
import type { Vae } from './vae.js';

const INPUT = 6;
const BATCH = 3;

before(async () => {
  await selectBackend('cpu');
});

/** Sets every value of parameter `name` to `value`. */
function fill(model: Vae, params: Float32Array, name: string, value: number): void {
  const at = paramOffsets(model.paramSpecs).get(name)!;
  params.fill(value, at.offset, at.offset + at.size);
}

describe('vae gradients (central differences, float32, fixed eps)', () => {
  for (const decoder of ['bernoulli', 'gaussian'] as const) {
    it(`${decoder} decoder`, () => {
      const model = createVae(INPUT, { layers: [4], latent: 2, activation: 'tanh', decoder });
      const params = model.init(new Rng(1));
      const batch = new Rng(2).fillUniform(new Float32Array(BATCH * INPUT));
      const { grads } = model.step(params, batch, BATCH, new Rng(7));
      const r = checkGradient((p) => model.step(p, batch, BATCH, new Rng(7)).loss, params, grads, 1e-2);
      assert.ok(r.relativeError < 2e-3 && r.worstRatio <= 1, JSON.stringify(r));
    });
  }
});

describe('vae loss terms', () => {
  const batch = new Rng(3).fillUniform(new Float32Array(BATCH * INPUT));
  const mu = 0.3;
  const logvar = -0.4;
  /** A VAE whose posterior is N(mu, exp(logvar)) for every image and whose decoder outputs 0.5. */
  function rigged(decoder: 'bernoulli' | 'gaussian'): { model: Vae; params: Float32Array } {
    const model = createVae(INPUT, { layers: [4], latent: 2, decoder });
    const params = new Float32Array(model.init(new Rng(1)));
    for (const name of ['mu.w', 'logvar.w', 'dec0.w', 'dec0.b', 'dec1.w', 'dec1.b'])
      fill(model, params, name, 0);
    fill(model, params, 'mu.b', mu);
    fill(model, params, 'logvar.b', logvar);
    return { model, params };
  }
  const kl = -0.5 * 2 * (1 + logvar - mu * mu - Math.exp(logvar));

  it('KL is the closed form; the Bernoulli term is D log 2 at p = 1/2', () => {
    const { model, params } = rigged('bernoulli');
    const r = model.step(params, batch, BATCH, new Rng(0));
    assert.ok(Math.abs(r.extras!['kl']! - kl) < 1e-5);
    assert.ok(Math.abs(r.extras!['reconstruction']! - INPUT * Math.log(2)) < 1e-5);
    assert.ok(Math.abs(r.loss - kl - INPUT * Math.log(2)) < 1e-5);
  });

  it('the Gaussian term includes its normalising constant', () => {
    const { model, params } = rigged('gaussian');
    const s2 = GAUSSIAN_DECODER_STD ** 2;
    let sq = 0;
    for (const x of batch) sq += (x - 0.5) ** 2;
    const expected = sq / BATCH / (2 * s2) + 0.5 * INPUT * Math.log(2 * Math.PI * s2);
    const r = model.step(params, batch, BATCH, new Rng(0));
    assert.ok(
      Math.abs(r.extras!['reconstruction']! - expected) < 1e-4,
      `${r.extras!['reconstruction']} vs ${expected}`,
    );
  });

  it('evaluate sums what step averages, with the same eps draw', () => {
    const model = createVae(INPUT, { layers: [4], latent: 2 });
    const params = model.init(new Rng(1));
    const r = model.step(params, batch, BATCH, new Rng(9));
    const e = model.evaluate(params, batch, BATCH, new Rng(9));
    assert.ok(Math.abs(e['neg_elbo_nats']! - r.loss * BATCH) < 1e-4);
    assert.ok(Math.abs(e['kl_nats']! - r.extras!['kl']! * BATCH) < 1e-4);
    assert.ok(Math.abs(e['neg_elbo_nats']! - e['kl_nats']! - e['reconstruction_nats']!) < 1e-4);
  });
});

describe('vae interface', () => {
  it('encodes to mu, decodes and samples in [0, 1], deterministically, without leaking tensors', () => {
    const model = createVae(INPUT, { layers: [5], latent: 2 });
    assert.equal(model.codeSize, 2);
    const params = model.init(new Rng(1));
    const batch = new Rng(2).fillUniform(new Float32Array(BATCH * INPUT));
    const before = tf.memory().numTensors;
    model.step(params, batch, BATCH, new Rng(3));
    const codes = model.encode(params, batch, BATCH);
    assert.equal(codes.length, BATCH * 2);
    assert.deepEqual(model.reconstruct(params, batch, BATCH), model.decode(params, codes, BATCH));
    const s = model.sample(params, 4, new Rng(5));
    assert.equal(s.length, 4 * INPUT);
    assert.ok(s.every((x) => x >= 0 && x <= 1));
    assert.deepEqual(s, model.sample(params, 4, new Rng(5)));
    model.evaluate(params, batch, BATCH, new Rng(6));
    assert.equal(tf.memory().numTensors, before);
  });
});

describe('vae training', () => {
  it('negative ELBO falls within 400 Adam steps (2-D latent)', () => {
    const side = 4;
    const count = 64;
    const data = barsImages(side, count, new Rng(11));
    const model = createVae(side * side, { layers: [16], latent: 2 });
    const params = model.init(new Rng(1));
    const r = train(model, params, data, count, {
      epochs: 100,
      batchSize: 16,
      lr: 1e-2,
      adam: true,
      rng: new Rng(2),
    });
    // Bars need several latent bits; a 2-D code only starts below the 16 log 2 nats of the pixel
    // marginals within this budget, so ask for a fall of half a nat.
    assert.ok(r.last < r.first - 0.5, `${r.first} -> ${r.last}`);
  });
});
