import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { selectBackend } from '../compute/backend.js';
import { tf } from '../compute/tf.js';
import { Rng } from '../data/rng.js';
import { HarmoniumError } from '../errors.js';
import { ConfigError } from '../errors.js';
import type { HyperValues } from './hyper.js';
import { paramOffsets } from './model.js';
import type { Model } from './model.js';
import { createStackedAutoencoder } from './stacked-autoencoder.js';
import type { StackedAutoencoder } from './stacked-autoencoder.js';
import { barsImages, checkGradient, train } from './testing.js';

const INPUT = 6;
const BATCH = 3;
const LAYERS = [5, 4, 3];

before(async () => {
  await selectBackend('cpu');
});

/** [start, end) of layer k's (0-based) four parameters in the flat buffer. */
function layerRange(model: Model, k: number): [number, number] {
  const offsets = paramOffsets(model.paramSpecs);
  const first = offsets.get(`enc${k + 1}.w`)!;
  const last = offsets.get(`dec${k + 1}.b`)!;
  return [first.offset, last.offset + last.size];
}

/** A named parameter of `params` as float64. */
function param(model: Model, params: Float32Array, name: string): Float64Array {
  const { offset, size } = paramOffsets(model.paramSpecs).get(name)!;
  return Float64Array.from(params.subarray(offset, offset + size));
}

type Act = 'linear' | 'sigmoid' | 'relu' | 'tanh';

function act(name: Act, z: number): number {
  if (name === 'sigmoid') return 1 / (1 + Math.exp(-z));
  if (name === 'relu') return Math.max(0, z);
  if (name === 'tanh') return Math.tanh(z);
  return z;
}

/** act(x W + b) in float64 for `rows` rows; W row-major inputs x outputs. */
function denseRef(
  x: ArrayLike<number>,
  rows: number,
  w: ArrayLike<number>,
  b: ArrayLike<number>,
  activation: Act,
): Float64Array {
  const inputs = x.length / rows;
  const outputs = b.length;
  const y = new Float64Array(rows * outputs);
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < outputs; j++) {
      let z = b[j]!;
      for (let i = 0; i < inputs; i++) z += x[r * inputs + i]! * w[i * outputs + j]!;
      y[r * outputs + j] = act(activation, z);
    }
  }
  return y;
}

function assertClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  tol: number,
  what: string,
): void {
  assert.equal(actual.length, expected.length, what);
  for (let i = 0; i < actual.length; i++) {
    assert.ok(
      Math.abs(actual[i]! - expected[i]!) <= tol * Math.max(1, Math.abs(expected[i]!)),
      `${what}[${i}]: ${actual[i]} vs ${expected[i]}`,
    );
  }
}

/**
 * Phase `k`'s gradient against central differences over layer k's parameters, with the step's
 * noise fixed by the seed; every other entry of `out` (NaN beforehand) must come back exactly 0.
 */
function assertPhaseGradient(hyper: HyperValues, k: number): void {
  const model = createStackedAutoencoder(INPUT, { layers: LAYERS, ...hyper });
  model.setPhase(k);
  const params = model.init(new Rng(1));
  const batch = new Rng(2).fillUniform(new Float32Array(BATCH * INPUT));
  const out = new Float32Array(params.length).fill(NaN);
  const { grads } = model.step(params, batch, BATCH, new Rng(7), out);
  assert.equal(grads, out);
  const [start, end] = layerRange(model, k);
  for (let i = 0; i < params.length; i++) {
    if (i < start || i >= end)
      assert.ok(Object.is(grads[i], 0), `${JSON.stringify(hyper)} phase ${k}: [${i}]`);
  }
  const r = checkGradient(
    () => model.step(params, batch, BATCH, new Rng(7)).loss,
    params.subarray(start, end),
    grads.subarray(start, end),
    1e-2,
  );
  assert.ok(
    r.relativeError < 2e-3 && r.worstRatio <= 1,
    `${JSON.stringify(hyper)} phase ${k}: ${JSON.stringify(r)}`,
  );
}

describe('stacked-ae phase gradients (central differences, float32)', () => {
  const cases: HyperValues[] = [
    {},
    { loss: 'mse', noise: 0.3, 'code-activation': 'sigmoid' },
    { activation: 'relu', 'code-activation': 'linear' },
    { activation: 'tanh', 'code-activation': 'tanh', noise: 0.25 },
  ];
  for (const hyper of cases) {
    it(`every phase of ${JSON.stringify(hyper)}; frozen slices exactly 0`, () => {
      for (let k = 0; k < LAYERS.length; k++) assertPhaseGradient(hyper, k);
    });
  }
});

describe('stacked-ae phase loss against a float64 reference', () => {
  it('phase 2 with masking noise: the frozen code of layer 1, masked, reconstructed with cross-entropy', () => {
    const noise = 0.4;
    const model = createStackedAutoencoder(INPUT, { layers: LAYERS, noise });
    const params = model.init(new Rng(3));
    const batch = new Rng(4).fillUniform(new Float32Array(BATCH * INPUT));
    model.setPhase(1);
    const { loss } = model.step(params, batch, BATCH, new Rng(9));
    const p = (name: string) => param(model, params, name);
    const h1 = denseRef(batch, BATCH, p('enc1.w'), p('enc1.b'), 'sigmoid');
    const u = new Rng(9).fillUniform(new Float32Array(h1.length));
    const masked = h1.map((v, i) => (u[i]! < noise ? 0 : v));
    const code = denseRef(masked, BATCH, p('enc2.w'), p('enc2.b'), 'sigmoid');
    const logits = denseRef(code, BATCH, p('dec2.w'), p('dec2.b'), 'linear');
    let sum = 0;
    for (let i = 0; i < logits.length; i++) {
      const z = logits[i]!;
      sum += Math.log1p(Math.exp(z)) - h1[i]! * z;
    }
    assertClose([loss], [sum / BATCH], 1e-5, 'loss');
    const clean = createStackedAutoencoder(INPUT, { layers: LAYERS });
    clean.setPhase(1);
    assert.notEqual(clean.step(params, batch, BATCH, new Rng(9)).loss, loss);
  });
});

describe('stacked-ae phases', () => {
  it('one phase per layer, named by its sizes, with the job epochs and settings', () => {
    const model = createStackedAutoencoder(INPUT, { layers: LAYERS });
    assert.deepEqual(model.phases, [
      { name: 'ae-1 6-5', epochs: null, training: null },
      { name: 'ae-2 5-4', epochs: null, training: null },
      { name: 'ae-3 4-3', epochs: null, training: null },
    ]);
    assert.deepEqual(
      model.paramSpecs.map((s) => `${s.name} ${s.shape.join('x')}`),
      [
        'enc1.w 6x5',
        'enc1.b 5',
        'dec1.w 5x6',
        'dec1.b 6',
        'enc2.w 5x4',
        'enc2.b 4',
        'dec2.w 4x5',
        'dec2.b 5',
        'enc3.w 4x3',
        'enc3.b 3',
        'dec3.w 3x4',
        'dec3.b 4',
      ],
    );
    assert.equal(model.codeSize, 3);
  });

  it('setPhase moves the trained slice; phase 0 until told; out-of-range phases throw', () => {
    const model = createStackedAutoencoder(INPUT, { layers: LAYERS });
    const params = model.init(new Rng(1));
    const batch = new Rng(2).fillUniform(new Float32Array(BATCH * INPUT));
    /** First and last index of a non-zero entry. */
    const nonZero = (g: Float32Array): [number, number] => {
      const hits = [...g.keys()].filter((i) => g[i] !== 0);
      return [hits[0]!, hits[hits.length - 1]!];
    };
    const first = model.step(params, batch, BATCH, new Rng(0));
    const [s0, e0] = layerRange(model, 0);
    const [a0, b0] = nonZero(first.grads);
    assert.ok(a0 >= s0 && b0 < e0 && b0 > a0);
    const losses = [first.loss];
    for (const k of [2, 1]) {
      model.setPhase(k);
      const r = model.step(params, batch, BATCH, new Rng(0));
      const [s, e] = layerRange(model, k);
      const [a, b] = nonZero(r.grads);
      assert.ok(a >= s && b < e && b > a, `phase ${k}`);
      losses.push(r.loss);
    }
    assert.equal(new Set(losses).size, 3);
    for (const bad of [-1, 3, 0.5]) {
      assert.throws(
        () => model.setPhase(bad),
        (err: unknown) => err instanceof HarmoniumError && err.code === 'MODEL_INVALID',
      );
    }
  });

  it('rejects bad hyperparameters', () => {
    assert.throws(() => createStackedAutoencoder(INPUT, { noise: 1 }), ConfigError);
    assert.throws(() => createStackedAutoencoder(INPUT, { layers: [] }), ConfigError);
    assert.throws(() => createStackedAutoencoder(INPUT, { activation: 'linear' }), ConfigError);
  });
});

describe('stacked-ae encode, decode, encoderLayers', () => {
  for (const hyper of [{}, { activation: 'relu', 'code-activation': 'sigmoid' }] as HyperValues[]) {
    it(`agree with float64 passes by hand (${JSON.stringify(hyper)})`, () => {
      const model = createStackedAutoencoder(INPUT, { layers: LAYERS, ...hyper });
      const params = model.init(new Rng(5));
      // Non-zero biases, so that their use is checked too.
      for (const s of model.paramSpecs.filter((q) => q.shape.length === 1)) {
        const { offset, size } = paramOffsets(model.paramSpecs).get(s.name)!;
        new Rng(offset).fillNormal(params.subarray(offset, offset + size), 0, 0.5);
      }
      const batch = new Rng(6).fillUniform(new Float32Array(BATCH * INPUT));
      const layers = model.encoderLayers(params);
      assert.deepEqual(
        layers.map((l) => [l.inputs, l.outputs, l.activation]),
        [
          [6, 5, hyper['activation'] ?? 'sigmoid'],
          [5, 4, hyper['activation'] ?? 'sigmoid'],
          [4, 3, hyper['code-activation'] ?? 'linear'],
        ],
      );
      let h: Float64Array = Float64Array.from(batch);
      for (const l of layers) h = denseRef(h, BATCH, l.weight, l.bias, l.activation);
      const codes = model.encode(params, batch, BATCH);
      assertClose(codes, h, 1e-5, 'encode');

      const upper = hyper['activation'] === 'relu' ? 'linear' : 'sigmoid';
      let d: Float64Array = Float64Array.from(codes);
      for (let i = LAYERS.length; i >= 1; i--) {
        const p = (name: string) => param(model, params, name);
        d = denseRef(d, BATCH, p(`dec${i}.w`), p(`dec${i}.b`), i === 1 ? 'sigmoid' : upper);
      }
      const decoded = model.decode(params, codes, BATCH);
      assertClose(decoded, d, 1e-5, 'decode');
      assert.deepEqual(model.reconstruct(params, batch, BATCH), decoded);

      layers[0]!.weight.fill(0);
      layers[0]!.bias.fill(0);
      assert.deepEqual(model.encode(params, batch, BATCH), codes, 'encoderLayers returns copies');
    });
  }

  it('leaks no tensors', () => {
    const model = createStackedAutoencoder(INPUT, { layers: LAYERS, noise: 0.2 });
    const params = model.init(new Rng(1));
    const batch = new Rng(2).fillUniform(new Float32Array(BATCH * INPUT));
    const before = tf.memory().numTensors;
    for (let k = 0; k < LAYERS.length; k++) {
      model.setPhase(k);
      model.step(params, batch, BATCH, new Rng(3));
    }
    model.decode(params, model.encode(params, batch, BATCH), BATCH);
    model.reconstruct(params, batch, BATCH);
    model.evaluate(params, batch, BATCH);
    assert.equal(tf.memory().numTensors, before);
  });

  it('is deterministic given the rngs', () => {
    const run = (initSeed: number, stepSeed: number) => {
      const model = createStackedAutoencoder(INPUT, { layers: LAYERS, noise: 0.3 });
      const params = model.init(new Rng(initSeed));
      model.setPhase(1);
      const batch = new Rng(2).fillUniform(new Float32Array(BATCH * INPUT));
      return { params, step: model.step(params, batch, BATCH, new Rng(stepSeed)) };
    };
    const a = run(1, 3);
    const b = run(1, 3);
    assert.deepEqual(a.params, b.params);
    assert.deepEqual(a.step, b.step);
    assert.notDeepEqual(run(2, 3).params, a.params);
    assert.notDeepEqual(run(1, 4).step.grads, a.step.grads);
  });
});

describe('stacked-ae greedy training on bars', () => {
  const side = 4;
  const count = 64;
  const data = barsImages(side, count, new Rng(11));

  /** Mean squared pixel error of the whole stack's reconstructions. */
  function reconstructionError(model: StackedAutoencoder, params: Float32Array): number {
    const r = model.reconstruct(params, data, count);
    let sum = 0;
    for (let i = 0; i < r.length; i++) sum += (r[i]! - data[i]!) ** 2;
    return sum / count;
  }

  const cases: HyperValues[] = [{}, { activation: 'relu' }, { noise: 0.2, 'code-activation': 'sigmoid' }];
  for (const hyper of cases) {
    it(`each phase lowers its loss and moves only its layer; the stack reconstructs better (${JSON.stringify(hyper)})`, () => {
      const model = createStackedAutoencoder(side * side, { layers: [12, 8, 6], ...hyper });
      const params = model.init(new Rng(1));
      const initialError = reconstructionError(model, params);
      const initialLoss = model.evaluate(params, data, count)['reconstruction_loss']! / count;
      const rng = new Rng(2);
      for (let k = 0; k < 3; k++) {
        model.setPhase(k);
        const before = Float32Array.from(params);
        const r = train(model, params, data, count, { epochs: 60, batchSize: 16, lr: 1e-2, adam: true, rng });
        assert.ok(r.last < 0.9 * r.first, `phase ${k}: ${r.first} -> ${r.last}`);
        const [start, end] = layerRange(model, k);
        for (let i = 0; i < params.length; i++) {
          if (i < start || i >= end) assert.equal(params[i], before[i], `phase ${k} moved [${i}]`);
        }
      }
      const error = reconstructionError(model, params);
      const loss = model.evaluate(params, data, count)['reconstruction_loss']! / count;
      assert.ok(error < 0.75 * initialError, `squared error ${initialError} -> ${error}`);
      assert.ok(loss < initialLoss, `loss ${initialLoss} -> ${loss}`);
    });
  }
});
