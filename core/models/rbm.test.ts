import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { selectBackend } from '../compute/backend.js';
import { tf } from '../compute/tf.js';
import { Rng } from '../data/rng.js';
import { CheckpointError, ConfigError } from '../errors.js';
import { createRbm } from './rbm.js';
import type { Rbm } from './rbm.js';
import { assertClose, barsImages, RbmReference, referenceCd, rows, train } from './testing.js';

before(async () => {
  await selectBackend('cpu');
});

const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));

describe('rbm CD statistics', () => {
  it('hand-computed: zero weights and biases, one visible vector (1, 0)', () => {
    // Every probability is 1/2 whatever the hidden sample, so the rng does not matter:
    // <vh>data = [[.5, .5], [0, 0]], <vh>model = .25 everywhere, <v>model = <h> = .5.
    const model = createRbm(2, { hidden: 2, 'weight-decay': 0 });
    const r = model.step(new Float32Array(8), Float32Array.of(1, 0), 1, new Rng(1));
    assertClose(r.grads, [-0.25, -0.25, 0.25, 0.25, -0.5, 0.5, 0, 0], 1e-7, 'grads');
    assert.equal(r.loss, 0.5);
  });

  for (const k of [1, 3]) {
    it(`CD-${k} matches a plain-JS reference with the same random draws`, () => {
      const n = 3;
      const m = 2;
      const decay = 0.01;
      const model = createRbm(n, { hidden: m, k, 'weight-decay': decay });
      const params = new Rng(5).fillNormal(new Float32Array(n * m + n + m), 0, 1);
      const batch = new Rng(6).fillUniform(new Float32Array(4 * n));
      const r = model.step(params, batch, 4, new Rng(9));
      const e = referenceCd(new RbmReference(n, m, params), rows(batch, n), k, decay, new Rng(9));
      assertClose(r.grads, e.grads, 2e-6, 'grads');
      assert.ok(Math.abs(r.loss - e.loss) < 2e-6);
    });
  }
});

describe('rbm persistent CD', () => {
  it('keeps binary fantasy particles that checkpoints restore exactly', () => {
    const n = 5;
    const data = new Rng(1).fillUniform(new Float32Array(4 * n));
    const a = createRbm(n, { hidden: 3, persistent: true });
    const params = a.init(new Rng(2));
    assert.equal(a.saveState(), null);
    a.step(params, data, 4, new Rng(3));
    const state = a.saveState()!;
    assert.equal(state.length, 4 * n);
    assert.ok(state.every((x) => x === 0 || x === 1));
    const b = createRbm(n, { hidden: 3, persistent: true });
    b.loadState(state);
    assert.deepEqual(b.step(params, data, 4, new Rng(4)), a.step(params, data, 4, new Rng(4)));
    assert.deepEqual(b.saveState(), a.saveState());
    assert.throws(() => b.loadState(new Float32Array(7)), CheckpointError);
    assert.throws(() => createRbm(n, { hidden: 3 }).loadState(state), CheckpointError);
  });
});

describe('rbm evaluation', () => {
  const n = 6;
  const model = createRbm(n, { hidden: 4, 'sample-steps': 20, 'ais-betas': 100 });
  const params = new Rng(7).fillNormal(new Float32Array(n * 4 + n + 4), 0, 1);
  const batch = new Rng(8).fillUniform(new Float32Array(3 * n));

  it('pseudo-log-likelihood flips one random bit per binarised image', () => {
    const ref = new RbmReference(n, 4, params);
    const rng = new Rng(10);
    let pll = 0;
    for (const x of rows(batch, n)) {
      const v = x.map((p): number => (p > 0.5 ? 1 : 0));
      const flipped = [...v];
      const i = rng.int(n);
      flipped[i] = 1 - flipped[i]!;
      pll += n * Math.log(sigmoid(ref.freeEnergy(flipped) - ref.freeEnergy(v)));
    }
    const e = model.evaluate(params, batch, 3, new Rng(10));
    assert.ok(Math.abs(e['pseudo_log_likelihood']! - pll) < 1e-4, `${e['pseudo_log_likelihood']} vs ${pll}`);
    assert.deepEqual(Object.keys(e), ['pseudo_log_likelihood']);
  });

  it('samples, encodes and decodes without leaking tensors', () => {
    const before = tf.memory().numTensors;
    const s = model.sample(params, 5, new Rng(1));
    assert.equal(s.length, 5 * n);
    assert.ok(s.every((x) => x >= 0 && x <= 1));
    assert.deepEqual(s, model.sample(params, 5, new Rng(1)));
    const codes = model.encode(params, batch, 3);
    assert.deepEqual(model.reconstruct(params, batch, 3), model.decode(params, codes, 3));
    model.step(params, batch, 3, new Rng(2));
    const pcd = createRbm(n, { hidden: 4, persistent: true, k: 2 });
    pcd.step(params, batch, 3, new Rng(2));
    pcd.step(params, batch, 3, new Rng(3));
    model.evaluate(params, batch, 3, new Rng(4));
    assert.ok(model.evaluateSet(params, batch, 3, new Rng(1)) !== null);
    assert.equal(tf.memory().numTensors, before);
  });

  it('reports the exact likelihood only for small hidden layers, the AIS one unless ais-betas is 0', () => {
    const wide = new Float32Array(n * 21 + n + 21);
    assert.equal(createRbm(n, { hidden: 21, 'ais-betas': 0 }).evaluateSet(wide, batch, 3, new Rng(1)), null);
    const ais = createRbm(n, { hidden: 21, 'ais-betas': 500, 'ais-runs': 20 }).evaluateSet(
      wide,
      batch,
      3,
      new Rng(1),
    );
    assert.deepEqual(Object.keys(ais!), ['ais_log_likelihood_nats', 'ais_log_partition', 'ais_log_z_sd']);
    // Zero weights: log Z = (6 + 21) log 2, whatever the start model.
    const logZ = ais!['ais_log_partition']!;
    assert.ok(Math.abs(logZ - (n + 21) * Math.LN2) < 0.2, `AIS log Z ${logZ}, exact ${(n + 21) * Math.LN2}`);
    assert.deepEqual(
      Object.keys(createRbm(n, { hidden: 4, 'ais-betas': 0 }).evaluateSet(params, batch, 3, new Rng(1))!),
      ['log_likelihood_nats', 'log_partition'],
    );
  });

  it('AIS log Z agrees with the exact one, and the likelihoods differ by exactly the gap', () => {
    const m = createRbm(n, { hidden: 4, 'ais-betas': 2000 });
    const e = m.evaluateSet(params, batch, 3, new Rng(1))!;
    const sd = e['ais_log_z_sd']!;
    assert.ok(sd > 0 && sd < 0.05, `sd ${sd}`);
    const gap = e['log_partition']! - e['ais_log_partition']!;
    assert.ok(
      Math.abs(gap) < 3 * sd,
      `exact ${e['log_partition']} vs AIS ${e['ais_log_partition']}, sd ${sd}`,
    );
    assert.ok(Math.abs(e['ais_log_likelihood_nats']! - e['log_likelihood_nats']! - gap) < 1e-9);
    assert.deepEqual(m.evaluateSet(params, batch, 3, new Rng(1)), e);
    const one = createRbm(n, { hidden: 4, 'ais-betas': 10, 'ais-runs': 1 }).evaluateSet(
      params,
      batch,
      3,
      new Rng(1),
    )!;
    assert.ok(!('ais_log_z_sd' in one) && Number.isFinite(one['ais_log_partition']));
    assert.throws(() => createRbm(n, { 'ais-betas': 1 }), ConfigError);
  });
});

describe('rbm training', () => {
  /** Four fixed 12-pixel binary patterns, repeated. */
  const patterns = [
    [1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0],
    [0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0],
    [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1],
    [1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0],
  ];
  const data = Float32Array.from(Array.from({ length: 4 }, () => patterns.flat()).flat());

  function logLikelihood(model: Rbm, params: Float32Array): number {
    return model.evaluateSet(params, data, 16, new Rng(1))!['log_likelihood_nats']!;
  }

  for (const persistent of [false, true]) {
    it(`exact log-likelihood rises under ${persistent ? 'PCD' : 'CD-1'} (12 visible, 8 hidden)`, () => {
      const model = createRbm(12, { hidden: 8, persistent, 'ais-betas': 0 });
      const params = model.init(new Rng(1));
      const before = logLikelihood(model, params);
      train(model, params, data, 16, { epochs: 75, batchSize: 4, lr: 0.1, adam: false, rng: new Rng(2) });
      const after = logLikelihood(model, params);
      // Uniform start: 12 log 2 = 8.3 nats; the set's own entropy is log 4 = 1.4 nats.
      assert.ok(after > before + 2, `${before} -> ${after}`);
    });
  }

  it('reconstruction error falls on bars within 400 SGD steps', () => {
    const side = 4;
    const bars = barsImages(side, 64, new Rng(11));
    const model = createRbm(side * side, { hidden: 16 });
    const params = model.init(new Rng(1));
    const r = train(model, params, bars, 64, {
      epochs: 100,
      batchSize: 16,
      lr: 0.1,
      adam: false,
      rng: new Rng(2),
    });
    assert.ok(r.last < 0.8 * r.first, `${r.first} -> ${r.last}`);
  });
});
