import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { selectBackend } from '../compute/backend.js';
import { tf } from '../compute/tf.js';
import { Rng } from '../data/rng.js';
import { ConfigError, HarmoniumError } from '../errors.js';
import { dbnBoundTerms } from '../eval/dbn-likelihood.js';
import { exactLogPartition } from '../eval/rbm-likelihood.js';
import { createDbn } from './dbn.js';
import type { Dbn } from './dbn.js';
import { createRbm } from './rbm.js';
import { assertClose, barsImages, RbmReference, referenceCd, rows, sampleRows, train } from './testing.js';

before(async () => {
  await selectBackend('cpu');
});

function blocksOf(sizes: readonly number[], params: Float32Array): RbmReference[] {
  const out: RbmReference[] = [];
  let offset = 0;
  for (let i = 1; i < sizes.length; i++) {
    const b = new RbmReference(sizes[i - 1]!, sizes[i]!, params, offset);
    out.push(b);
    offset += b.size;
  }
  return out;
}

/** Whether every value of `flat` outside `block` is exactly zero. */
function zeroOutside(flat: Float32Array, block: RbmReference): boolean {
  return flat.every((x, i) => x === 0 || (i >= block.offset && i < block.offset + block.size));
}

const SIZES = [5, 4, 3, 2];

function tinyNet(hyper: Record<string, number> = {}): {
  model: Dbn;
  params: Float32Array;
  blocks: RbmReference[];
} {
  const model = createDbn(SIZES[0]!, { layers: SIZES.slice(1), ...hyper });
  const params = new Rng(5).fillNormal(new Float32Array(model.init(new Rng(1)).length), 0, 1);
  return { model, params, blocks: blocksOf(SIZES, params) };
}

describe('dbn layout and phases', () => {
  it('lays out one RBM block per layer and one phase per RBM', () => {
    const model = createDbn(784, {});
    assert.deepEqual(model.hyper['layers'], [500, 500]);
    assert.equal(model.codeSize, 500);
    assert.deepEqual(
      model.paramSpecs.map((s) => `${s.name} ${s.shape.join('x')}`),
      ['w1 784x500', 'down.b1 784', 'up.b1 500', 'w2 500x500', 'down.b2 500', 'up.b2 500'],
    );
    assert.deepEqual(model.phases, [
      { name: 'rbm-1 784-500', epochs: null, training: null },
      { name: 'rbm-2 500-500', epochs: null, training: null },
    ]);
    const { model: tiny } = tinyNet();
    const params = tiny.init(new Rng(2));
    const blocks = blocksOf(SIZES, params);
    let sq = 0;
    let weights = 0;
    for (const b of blocks) {
      for (let i = 0; i < b.n; i++) {
        for (let j = 0; j < b.m; j++) {
          sq += b.w(i, j) ** 2;
          weights++;
        }
        assert.equal(b.a(i), 0);
      }
      for (let j = 0; j < b.m; j++) assert.equal(b.b(j), 0);
    }
    const sd = Math.sqrt(sq / weights);
    assert.ok(sd > 0.005 && sd < 0.015, `initial weight sd ${sd}`);
  });

  it('refuses phases it does not have, and bad hyperparameters', () => {
    const { model } = tinyNet();
    for (const p of [-1, 3, 0.5]) {
      assert.throws(
        () => model.setPhase(p),
        (err: unknown) => err instanceof HarmoniumError && err.code === 'MODEL_INVALID',
      );
    }
    assert.throws(() => createDbn(4, { 'ais-betas': 1 }), ConfigError);
    assert.throws(() => createDbn(4, { layers: [] }), ConfigError);
    assert.throws(() => createDbn(4, { layers: [3, 0] }), ConfigError);
  });
});

describe('dbn CD statistics', () => {
  for (const k of [1, 2]) {
    it(`CD-${k} of each phase matches a float64 reference on the up-pass input; the rest stays 0`, () => {
      const decay = 0.01;
      const { model, params, blocks } = tinyNet({ k, 'weight-decay': decay });
      const batch = new Rng(6).fillUniform(new Float32Array(4 * SIZES[0]!));
      for (let phase = 0; phase < blocks.length; phase++) {
        model.setPhase(phase);
        let input = rows(batch, SIZES[0]!);
        for (let i = 0; i < phase; i++) input = input.map((x) => blocks[i]!.hidden(x));
        const block = blocks[phase]!;
        const e = referenceCd(block, input, k, decay, new Rng(9));
        const out = new Float32Array(params.length).fill(NaN);
        const r = model.step(params, batch, 4, new Rng(9), out);
        assert.equal(r.grads, out);
        assertClose(out.subarray(block.offset, block.offset + block.size), e.grads, 2e-6, `phase ${phase}`);
        assert.ok(zeroOutside(out, block), `phase ${phase}: a frozen parameter has a nonzero update`);
        assert.ok(Math.abs(r.loss - e.loss) < 2e-6, `phase ${phase}: loss ${r.loss} vs ${e.loss}`);
        assert.deepEqual(r.extras, { layer: phase + 1 });
      }
    });
  }

  it('trains phase 0 until told otherwise, and setPhase switches what trains', () => {
    const { model, params, blocks } = tinyNet();
    const batch = new Rng(7).fillUniform(new Float32Array(3 * SIZES[0]!));
    const first = model.step(params, batch, 3, new Rng(8));
    assert.ok(zeroOutside(first.grads, blocks[0]!));
    model.setPhase(2);
    const top = model.step(params, batch, 3, new Rng(8));
    assert.ok(zeroOutside(top.grads, blocks[2]!));
    assert.ok(top.grads.some((x) => x !== 0));
    model.setPhase(0);
    assert.deepEqual(model.step(params, batch, 3, new Rng(8)), first);
  });
});

describe('dbn training', () => {
  it("greedy phases lower each RBM's reconstruction error and leave the frozen RBM alone", () => {
    const side = 4;
    const n = side * side;
    const data = barsImages(side, 64, new Rng(11));
    const model = createDbn(n, { layers: [16, 8] });
    const params = model.init(new Rng(1));
    const [bottom, top] = blocksOf([n, 16, 8], params);
    const sse = (): number => {
      const r = model.reconstruct(params, data, 64);
      let s = 0;
      for (let i = 0; i < r.length; i++) s += (r[i]! - data[i]!) ** 2;
      return s / 64;
    };
    const untrained = sse();
    const opts = { epochs: 300, batchSize: 16, lr: 0.1, adam: false } as const;
    const topBefore = params.slice(top!.offset, top!.offset + top!.size);
    const r0 = train(model, params, data, 64, { ...opts, rng: new Rng(2) });
    assert.ok(r0.last < 0.5 * r0.first, `phase 1: ${r0.first} -> ${r0.last}`);
    assert.deepEqual(params.slice(top!.offset, top!.offset + top!.size), topBefore);
    model.setPhase(1);
    const bottomBefore = params.slice(0, bottom!.size);
    const r1 = train(model, params, data, 64, { ...opts, rng: new Rng(3) });
    assert.ok(r1.last < 0.5 * r1.first, `phase 2: ${r1.first} -> ${r1.last}`);
    assert.deepEqual(params.slice(0, bottom!.size), bottomBefore);
    const trained = sse();
    assert.ok(trained < 0.5 * untrained, `reconstruction SSE ${untrained} -> ${trained}`);
  });
});

describe('dbn codes and samples', () => {
  const { model, params, blocks } = tinyNet({ 'sample-steps': 7 });
  const batch = new Rng(12).fillUniform(new Float32Array(3 * SIZES[0]!));

  it('encodes by the up-pass, decodes by the down-pass, and hands out the up-pass as dense layers', () => {
    const codes = model.encode(params, batch, 3);
    const up = rows(batch, SIZES[0]!).map((x) => blocks.reduce((h, b) => b.hidden(h), x));
    assertClose(codes, up.flat(), 1e-6, 'codes');
    const down = up.map((h) => blocks.reduceRight((x, b) => b.visible(x), h));
    assertClose(model.decode(params, codes, 3), down.flat(), 1e-6, 'decoded');
    assert.deepEqual(model.reconstruct(params, batch, 3), model.decode(params, codes, 3));
    const layers = model.encoderLayers(params);
    assert.deepEqual(
      layers.map((l) => [l.inputs, l.outputs, l.weight.length, l.bias.length, l.activation]),
      [
        [5, 4, 20, 4, 'sigmoid'],
        [4, 3, 12, 3, 'sigmoid'],
        [3, 2, 6, 2, 'sigmoid'],
      ],
    );
    layers.forEach((l, i) => {
      const b = blocks[i]!;
      assert.deepEqual(l.weight, params.slice(b.offset, b.offset + b.n * b.m));
      assert.deepEqual(l.bias, params.slice(b.offset + b.n * b.m + b.n, b.offset + b.size));
    });
    layers[0]!.weight[0] = 99;
    assert.notEqual(params[0], 99);
  });

  it('samples: the top RBM chain, a binary state per hidden layer, pixel probabilities', () => {
    const s = model.sample(params, 6, new Rng(13));
    assert.equal(s.length, 6 * SIZES[0]!);
    assert.deepEqual(model.sample(params, 6, new Rng(13)), s);
    // The same draws by hand: the rbm model's chain on the top block, then the down-pass.
    const rng = new Rng(13);
    const top = blocks[2]!;
    const chain = createRbm(top.n, { hidden: top.m, 'sample-steps': 7 }).sample(
      params.subarray(top.offset, top.offset + top.size),
      6,
      rng,
    );
    let h = sampleRows(rows(chain, top.n), rng);
    h = sampleRows(
      h.map((x) => blocks[1]!.visible(x)),
      rng,
    );
    assertClose(s, h.map((x) => blocks[0]!.visible(x)).flat(), 1e-6, 'sample');
    const oneLayer = createDbn(5, { layers: [4], 'sample-steps': 7 });
    const p1 = params.slice(0, blocks[0]!.size);
    assert.deepEqual(
      oneLayer.sample(p1, 6, new Rng(14)),
      createRbm(5, { hidden: 4, 'sample-steps': 7 }).sample(p1, 6, new Rng(14)),
    );
  });

  it('leaks no tensors', () => {
    const before = tf.memory().numTensors;
    model.setPhase(1);
    model.step(params, batch, 3, new Rng(1));
    model.setPhase(0);
    model.step(params, batch, 3, new Rng(1));
    model.sample(params, 2, new Rng(2));
    model.reconstruct(params, batch, 3);
    model.evaluateSet(params, batch, 3, new Rng(3));
    assert.equal(tf.memory().numTensors, before);
  });
});

describe('dbn evaluation', () => {
  const n = 8;
  const data = new Rng(21).fillUniform(new Float32Array(20 * n));

  it('gives the bound with the exact and the AIS log Z of a small top RBM', () => {
    const model = createDbn(n, { layers: [6, 4], 'ais-betas': 2000 });
    const params = new Rng(22).fillNormal(new Float32Array(model.init(new Rng(1)).length), 0, 1);
    const e = model.evaluateSet(params, data, 20, new Rng(23))!;
    assert.deepEqual(Object.keys(e), [
      'log_likelihood_bound_nats',
      'log_partition',
      'ais_log_likelihood_nats',
      'ais_log_partition',
      'ais_log_z_sd',
    ]);
    const rbms = model.weights(params);
    const logZ = exactLogPartition(rbms[1]!);
    const terms = dbnBoundTerms(rbms, data, 20, new Rng(23));
    assert.equal(e['log_partition'], logZ);
    assert.equal(e['log_likelihood_bound_nats'], terms.meanLogWeight - logZ);
    const sd = e['ais_log_z_sd']!;
    assert.ok(sd > 0 && sd < 0.05, `sd ${sd}`);
    const gap = logZ - e['ais_log_partition']!;
    assert.ok(Math.abs(gap) < 3 * sd + 0.01, `exact ${logZ} vs AIS ${e['ais_log_partition']}, sd ${sd}`);
    assert.ok(Math.abs(e['ais_log_likelihood_nats']! - e['log_likelihood_bound_nats']! - gap) < 1e-9);
  });

  it('skips what does not apply: AIS only above the exact limit, nothing without it', () => {
    const wide = createDbn(n, { layers: [6, 21], 'ais-betas': 0 });
    const zeros = new Float32Array(wide.init(new Rng(1)).length);
    assert.equal(wide.evaluateSet(zeros, data, 20, new Rng(1)), null);
    assert.equal(createDbn(n, { layers: [6, 4] }).evaluateSet(zeros, data, 0, new Rng(1)), null);
    const ais = createDbn(n, { layers: [6, 21], 'ais-betas': 300, 'ais-runs': 20 });
    const e = ais.evaluateSet(zeros, data, 20, new Rng(1))!;
    assert.deepEqual(Object.keys(e), ['ais_log_likelihood_nats', 'ais_log_partition', 'ais_log_z_sd']);
    // Zero parameters: log Z = (6 + 21) log 2, and log p(v) = -8 log 2 with q the exact posterior.
    assert.ok(Math.abs(e['ais_log_partition']! - 27 * Math.LN2) < 0.05, `log Z ${e['ais_log_partition']}`);
    assert.ok(
      Math.abs(e['ais_log_likelihood_nats']! + n * Math.LN2) < 0.05,
      `${e['ais_log_likelihood_nats']}`,
    );
  });
});
