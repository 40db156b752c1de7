import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { selectBackend } from '../compute/backend.js';
import { tf } from '../compute/tf.js';
import { Rng } from '../data/rng.js';
import { HarmoniumError } from '../errors.js';
import { Sgd } from '../train/sgd.js';
import { createDeepAutoencoder } from './deep-autoencoder.js';
import type { DeepAutoencoder } from './deep-autoencoder.js';
import type { HyperValues } from './hyper.js';
import { glorotInit } from './layers.js';
import { flatLength, paramOffsets } from './model.js';
import { assertClose, barsImages, checkGradient, rows, train } from './testing.js';

before(async () => {
  await selectBackend('cpu');
});

const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));

/** Input 5, RBMs 5-4 and 4-3 (Bernoulli hidden), 3-2 (linear hidden). */
const TINY: HyperValues = { layers: [4, 3], code: 2, 'weight-decay': 0.01 };

/** The named slice of the flat parameters (or gradients) of `model`. */
function slice(model: DeepAutoencoder, flat: Float32Array, name: string): Float32Array {
  const { offset, size } = paramOffsets(model.paramSpecs).get(name)!;
  return flat.subarray(offset, offset + size);
}

/** rows x cols row-major, transposed. */
function transposed(a: Float32Array, rows: number, cols: number): Float32Array {
  const t = new Float32Array(a.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) t[c * rows + r] = a[r * cols + c]!;
  return t;
}

/** x W + b in float64 for one row, W row-major inputs x outputs. */
function affine(x: readonly number[], w: Float32Array, b: Float32Array): number[] {
  return Array.from(b, (bj, j) => x.reduce((s, xi, i) => s + xi * w[i * b.length + j]!, bj));
}

/**
 * CD-1 on RBM `i` of `model` in float64: data = sigmoid up-pass through the RBMs below; h0 drawn
 * row-major from `rng` (uniform < p, or mean + normal for the linear top); v1 = sigmoid(h0 W^T + a).
 */
function referenceCd(
  model: DeepAutoencoder,
  params: Float32Array,
  batch: Float32Array,
  i: number,
  linear: boolean,
  decay: number,
  rng: Rng,
): { loss: number; w: number[]; b: number[]; a: number[] } {
  const p = (name: string): Float32Array => slice(model, params, name);
  let v0 = rows(batch, model.inputSize);
  for (let j = 0; j < i; j++) v0 = v0.map((x) => affine(x, p(`enc${j}.w`), p(`enc${j}.b`)).map(sigmoid));
  const w = p(`enc${i}.w`);
  const bias = p(`enc${i}.b`);
  const a = p(`dec${i}.b`);
  const n = a.length;
  const m = bias.length;
  const hidden = (v: number[]): number[] => affine(v, w, bias).map(linear ? (z) => z : sigmoid);
  const ph0 = v0.map(hidden);
  const h0 = ph0.map((row) =>
    row.map((q) => (linear ? q + rng.normal() : Math.fround(rng.uniform()) < Math.fround(q) ? 1 : 0)),
  );
  const v1 = h0.map((h) =>
    Array.from(a, (ai, r) => sigmoid(h.reduce((s, hj, j) => s + hj * w[r * m + j]!, ai))),
  );
  const ph1 = v1.map(hidden);
  const bsz = v0.length;
  let loss = 0;
  v0.forEach((v, r) => v.forEach((x, k) => (loss += (x - v1[r]![k]!) ** 2)));
  const gw: number[] = [];
  for (let r = 0; r < n; r++) {
    for (let j = 0; j < m; j++) {
      let s = 0;
      for (let k = 0; k < bsz; k++) s += v0[k]![r]! * ph0[k]![j]! - v1[k]![r]! * ph1[k]![j]!;
      gw.push(-s / bsz + decay * w[r * m + j]!);
    }
  }
  const gb = Array.from({ length: m }, (_, j) => -ph0.reduce((s, h, k) => s + h[j]! - ph1[k]![j]!, 0) / bsz);
  const ga = Array.from({ length: n }, (_, r) => -v0.reduce((s, v, k) => s + v[r]! - v1[k]![r]!, 0) / bsz);
  return { loss: loss / bsz, w: gw, b: gb, a: ga };
}

describe('deep-ae phases', () => {
  it('pretrain rbm: one CD phase per RBM with rbm.m / rbmhidlinear.m settings, then finetune', () => {
    const model = createDeepAutoencoder(784, {});
    const sgd = (lr: number) => ({
      optimizer: 'sgd',
      lr,
      momentum: 0.5,
      finalMomentum: 0.9,
      momentumSwitchEpoch: 5,
    });
    assert.deepEqual(model.phases, [
      { name: 'rbm-1 784-1000', epochs: 10, training: sgd(0.1) },
      { name: 'rbm-2 1000-500', epochs: 10, training: sgd(0.1) },
      { name: 'rbm-3 500-250', epochs: 10, training: sgd(0.1) },
      { name: 'rbm-4 250-30 (linear)', epochs: 10, training: sgd(0.001) },
      { name: 'finetune', epochs: null, training: null },
    ]);
    assert.equal(model.codeSize, 30);
    assert.deepEqual(
      model.paramSpecs.map((s) => `${s.name}:${s.shape.join('x')}`),
      [
        'enc0.w:784x1000',
        'enc0.b:1000',
        'enc1.w:1000x500',
        'enc1.b:500',
        'enc2.w:500x250',
        'enc2.b:250',
        'enc3.w:250x30',
        'enc3.b:30',
        'dec0.w:1000x784',
        'dec0.b:784',
        'dec1.w:500x1000',
        'dec1.b:1000',
        'dec2.w:250x500',
        'dec2.b:500',
        'dec3.w:30x250',
        'dec3.b:250',
      ],
    );
    const custom = createDeepAutoencoder(784, {
      code: 2,
      'pretrain-epochs': 3,
      'pretrain-lr': 0.05,
      'code-lr': 0.002,
    });
    assert.deepEqual(custom.phases[3], { name: 'rbm-4 250-2 (linear)', epochs: 3, training: sgd(0.002) });
    assert.throws(() => custom.setPhase(5), HarmoniumError);
    assert.throws(() => custom.setPhase(-1), HarmoniumError);
  });

  it('pretrain none: only finetune, every matrix Glorot-uniform on its own, biases zero', () => {
    const model = createDeepAutoencoder(5, { ...TINY, pretrain: 'none' });
    assert.deepEqual(model.phases, [{ name: 'finetune', epochs: null, training: null }]);
    const params = model.init(new Rng(3));
    assert.deepEqual(params, glorotInit(model.paramSpecs, new Rng(3)));
    assert.notDeepEqual(slice(model, params, 'dec0.w'), transposed(slice(model, params, 'enc0.w'), 5, 4));
    model.setPhase(0);
    const batch = new Rng(4).fillUniform(new Float32Array(2 * 5));
    assert.ok(model.step(params, batch, 2, new Rng(1)).extras?.['sse'] !== undefined);
  });

  it('pretrain rbm: weights 0.1 * randn with the decoder the exact transpose, biases zero', () => {
    const model = createDeepAutoencoder(40, { layers: [30], code: 20 });
    const params = model.init(new Rng(5));
    const w = slice(model, params, 'enc0.w');
    const sd = Math.sqrt(w.reduce((s, x) => s + x * x, 0) / w.length);
    assert.ok(Math.abs(sd - 0.1) < 0.01, `sd ${sd}`);
    assert.deepEqual(slice(model, params, 'dec0.w'), transposed(w, 40, 30));
    assert.deepEqual(slice(model, params, 'dec1.w'), transposed(slice(model, params, 'enc1.w'), 30, 20));
    for (const name of ['enc0.b', 'enc1.b', 'dec0.b', 'dec1.b'])
      assert.ok(slice(model, params, name).every((x) => x === 0));
  });
});

describe('deep-ae CD statistics', () => {
  const model = createDeepAutoencoder(5, TINY);
  // Weights larger than the init's, biases nonzero, so that every term matters.
  const params = new Rng(7).fillNormal(new Float32Array(flatLength(model.paramSpecs)), 0, 1);
  const batch = new Rng(8).fillUniform(new Float32Array(4 * 5));
  const trained: Record<number, string[]> = {
    1: ['enc1.w', 'enc1.b', 'dec1.w', 'dec1.b'],
    2: ['enc2.w', 'enc2.b', 'dec2.w', 'dec2.b'],
  };

  for (const [phase, linear] of [
    [1, false],
    [2, true],
  ] as const) {
    it(`phase ${model.phases[phase]!.name} matches a float64 reference with the same draws, zeros elsewhere`, () => {
      model.setPhase(phase);
      const out = new Float32Array(params.length).fill(NaN);
      const r = model.step(params, batch, 4, new Rng(9), out);
      assert.equal(r.grads, out);
      const e = referenceCd(model, params, batch, phase, linear, 0.01, new Rng(9));
      assert.ok(Math.abs(r.loss - e.loss) < 1e-5, `loss ${r.loss} vs ${e.loss}`);
      assertClose(slice(model, out, `enc${phase}.w`), e.w, 2e-6, 'enc.w');
      assertClose(slice(model, out, `enc${phase}.b`), e.b, 2e-6, 'enc.b');
      assertClose(slice(model, out, `dec${phase}.b`), e.a, 2e-6, 'dec.b');
      const [n, m] = model.paramSpecs.find((s) => s.name === `enc${phase}.w`)!.shape as [number, number];
      assert.deepEqual(
        slice(model, out, `dec${phase}.w`),
        transposed(slice(model, out, `enc${phase}.w`), n, m),
      );
      for (const s of model.paramSpecs) {
        if (trained[phase]!.includes(s.name)) continue;
        assert.ok(
          slice(model, out, s.name).every((x) => x === 0),
          `${s.name} not zero`,
        );
      }
    });
  }
});

describe('deep-ae pretraining keeps the decoder the encoder transposed', () => {
  for (const native of [true, false]) {
    it(`bit-exactly through SGD with momentum 0.5 -> 0.9 (${native ? 'native' : 'JavaScript'} update)`, () => {
      const model = createDeepAutoencoder(8, { layers: [6], code: 4, 'code-lr': 0.01 });
      const params = model.init(new Rng(1));
      const start = Float32Array.from(params);
      const data = new Rng(2).fillUniform(new Float32Array(10 * 8));
      const rng = new Rng(3);
      const grads = new Float32Array(params.length);
      for (let phase = 0; phase < 2; phase++) {
        model.setPhase(phase);
        const { lr } = model.phases[phase]!.training!;
        const sgd = new Sgd(params.length, { momentum: 0.5, native });
        for (let s = 0; s < 8; s++) {
          if (s === 4) sgd.momentum = 0.9;
          model.step(params, data.subarray((s % 2) * 40, (s % 2) * 40 + 40), 5, rng, grads);
          sgd.step(params, grads, lr);
        }
      }
      for (const [i, n, m] of [
        [0, 8, 6],
        [1, 6, 4],
      ] as const) {
        const w = slice(model, params, `enc${i}.w`);
        assert.notDeepEqual(w, slice(model, start, `enc${i}.w`));
        assert.deepEqual(slice(model, params, `dec${i}.w`), transposed(w, n, m));
      }
    });
  }
});

describe('deep-ae fine-tuning', () => {
  for (const loss of ['cross-entropy', 'mse'] as const) {
    it(`gradient of the ${loss} loss by central differences`, () => {
      const model = createDeepAutoencoder(6, { layers: [5, 4], code: 3, loss, pretrain: 'none' });
      const params = model.init(new Rng(1));
      // Nonzero biases so their gradients are exercised away from the symmetric start.
      for (const name of ['enc0.b', 'enc2.b', 'dec1.b', 'dec0.b'])
        new Rng(2).fillNormal(slice(model, params, name), 0, 0.5);
      const batch = new Rng(3).fillUniform(new Float32Array(3 * 6));
      const { grads, extras } = model.step(params, batch, 3, new Rng(4));
      const r = checkGradient((p) => model.step(p, batch, 3, new Rng(4)).loss, params, grads, 1e-2);
      assert.ok(r.relativeError < 2e-3 && r.worstRatio <= 1, JSON.stringify(r));
      const recon = model.reconstruct(params, batch, 3);
      let sse = 0;
      recon.forEach((x, k) => (sse += (x - batch[k]!) ** 2));
      assert.ok(Math.abs(extras!['sse']! - sse / 3) < 1e-5, `${extras!['sse']} vs ${sse / 3}`);
      if (loss === 'mse')
        assert.ok(Math.abs(extras!['sse']! - model.step(params, batch, 3, new Rng(4)).loss) < 1e-6);
    });
  }

  it('encode, decode, reconstruct and encoderLayers agree, without leaking tensors', () => {
    const model = createDeepAutoencoder(5, TINY);
    const params = new Rng(1).fillNormal(new Float32Array(flatLength(model.paramSpecs)), 0, 1);
    const batch = new Rng(2).fillUniform(new Float32Array(3 * 5));
    const before = tf.memory().numTensors;
    const codes = model.encode(params, batch, 3);
    assert.equal(codes.length, 3 * 2);
    assert.deepEqual(model.reconstruct(params, batch, 3), model.decode(params, codes, 3));
    const layers = model.encoderLayers(params);
    assert.deepEqual(
      layers.map((l) => [l.inputs, l.outputs, l.activation]),
      [
        [5, 4, 'sigmoid'],
        [4, 3, 'sigmoid'],
        [3, 2, 'linear'],
      ],
    );
    layers[0]!.weight[0] = 1e6;
    assert.notEqual(params[0], 1e6);
    let h = rows(batch, 5);
    for (const l of model.encoderLayers(params)) {
      h = h.map((x) => affine(x, l.weight, l.bias).map(l.activation === 'linear' ? (z) => z : sigmoid));
    }
    assertClose(codes, h.flat(), 1e-5, 'codes');
    for (let i = 2; i >= 0; i--) {
      h = h.map((x) =>
        affine(x, slice(model, params, `dec${i}.w`), slice(model, params, `dec${i}.b`)).map(sigmoid),
      );
    }
    assertClose(model.decode(params, codes, 3), h.flat(), 1e-5, 'decoded');
    for (let phase = 0; phase < model.phases.length; phase++) {
      model.setPhase(phase);
      model.step(params, batch, 3, new Rng(phase));
    }
    assert.ok(model.evaluate(params, batch, 3)['reconstruction_loss']! > 0);
    assert.equal(tf.memory().numTensors, before);
  });
});

describe('deep-ae training', () => {
  it('every phase lowers its loss on bars (16-12-8-4)', () => {
    const side = 4;
    const data = barsImages(side, 64, new Rng(11));
    const model = createDeepAutoencoder(side * side, { layers: [12, 8], code: 4 });
    const params = model.init(new Rng(1));
    const rng = new Rng(2);
    // Plain SGD for the CD phases (a smaller step for the linear top), Adam to fine-tune.
    const lrs = [0.1, 0.1, 0.01, 0.03];
    // The cross-entropy of pixels at 0.9 or 0.1 cannot fall below their entropy.
    const floors = [0, 0, 0, -side * side * (0.9 * Math.log(0.9) + 0.1 * Math.log(0.1))];
    for (let phase = 0; phase < model.phases.length; phase++) {
      model.setPhase(phase);
      const r = train(model, params, data, 64, {
        epochs: 60,
        batchSize: 16,
        lr: lrs[phase]!,
        adam: phase === 3,
        rng,
      });
      const floor = floors[phase]!;
      assert.ok(
        r.last - floor < 0.8 * (r.first - floor),
        `${model.phases[phase]!.name}: ${r.first} -> ${r.last}`,
      );
    }
  });
});
