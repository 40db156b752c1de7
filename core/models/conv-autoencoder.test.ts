import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { selectBackend } from '../compute/backend.js';
import { tf } from '../compute/tf.js';
import { Rng } from '../data/rng.js';
import { ConfigError } from '../errors.js';
import { createConvAutoencoder } from './conv-autoencoder.js';
import type { HyperValues } from './hyper.js';
import { flatLength, paramOffsets } from './model.js';
import { findModel } from './registry.js';
import { checkGradient, train } from './testing.js';

before(async () => {
  await selectBackend('cpu');
});

/** `count` side x side grey images of one or two Gaussian blobs each, values in [0, 1]. */
function blobImages(side: number, count: number, rng: Rng): Float32Array {
  const out = new Float32Array(count * side * side);
  for (let n = 0; n < count; n++) {
    const blobs = 1 + rng.int(2);
    for (let b = 0; b < blobs; b++) {
      const cy = side * (0.2 + 0.6 * rng.uniform());
      const cx = side * (0.2 + 0.6 * rng.uniform());
      const s = side * (0.06 + 0.08 * rng.uniform());
      for (let r = 0; r < side; r++) {
        for (let c = 0; c < side; c++) {
          const i = n * side * side + r * side + c;
          const v = Math.exp(-((r - cy) ** 2 + (c - cx) ** 2) / (2 * s * s));
          out[i] = Math.min(1, out[i]! + v);
        }
      }
    }
  }
  return out;
}

describe('conv-ae architecture', () => {
  it('builds the PyTorch reference from its defaults on 28x28x1 images', () => {
    const model = findModel('conv-ae').create(784, {});
    assert.equal(model.kind, 'conv-ae');
    assert.deepEqual(
      model.paramSpecs.map((s) => [s.name, s.shape]),
      [
        ['enc0.w', [3, 3, 1, 16]],
        ['enc0.b', [16]],
        ['enc1.w', [3, 3, 16, 8]],
        ['enc1.b', [8]],
        ['dec0.w', [2, 2, 16, 8]],
        ['dec0.b', [16]],
        ['dec1.w', [2, 2, 1, 16]],
        ['dec1.b', [1]],
      ],
    );
    assert.equal(
      flatLength(model.paramSpecs),
      16 * 9 + 16 + 8 * 16 * 9 + 8 + 2 * 2 * 16 * 8 + 16 + 2 * 2 * 1 * 16 + 1,
    );
    assert.equal(flatLength(model.paramSpecs), 1913);
    assert.equal(model.codeSize, 7 * 7 * 8);
    assert.deepEqual(model.hyper, {
      filters: [16, 8],
      kernel: 3,
      channels: 1,
      activation: 'relu',
      loss: 'mse',
    });
  });

  it('initialises kernels Glorot-uniform with convolution fans and biases at zero', () => {
    const model = createConvAutoencoder(784, {});
    const params = model.init(new Rng(1));
    const offsets = paramOffsets(model.paramSpecs);
    for (const s of model.paramSpecs) {
      const { offset, size } = offsets.get(s.name)!;
      const v = params.subarray(offset, offset + size);
      if (s.shape.length === 1) {
        assert.ok(
          v.every((x) => x === 0),
          s.name,
        );
        continue;
      }
      const [kh, kw, a, b] = s.shape as [number, number, number, number];
      const r = Math.sqrt(6 / (kh * kw * (a + b)));
      const maxAbs = v.reduce((m, x) => Math.max(m, Math.abs(x)), 0);
      assert.ok(maxAbs <= r && maxAbs > 0.5 * r, `${s.name}: max |w| ${maxAbs} vs bound ${r}`);
    }
  });

  it('takes colour images and other depths: side inferred from inputSize and channels', () => {
    const model = createConvAutoencoder(3 * 16 * 16, { channels: 3, filters: [4, 6, 5] });
    assert.equal(model.side, 16);
    assert.equal(model.codeSize, 2 * 2 * 5);
    assert.deepEqual(model.paramSpecs.find((s) => s.name === 'enc0.w')?.shape, [3, 3, 3, 4]);
    assert.deepEqual(model.paramSpecs.find((s) => s.name === 'dec2.w')?.shape, [2, 2, 3, 4]);
    const params = model.init(new Rng(1));
    const batch = new Rng(2).fillUniform(new Float32Array(2 * model.inputSize));
    assert.equal(model.reconstruct(params, batch, 2).length, 2 * model.inputSize);
  });

  it('rejects input sizes that are not a square image divisible by 2^layers, and even kernels', () => {
    const rejects = (inputSize: number, hyper: HyperValues, field: string, text: RegExp): void =>
      assert.throws(
        () => createConvAutoencoder(inputSize, hyper),
        (err: unknown) => err instanceof ConfigError && err.field === field && text.test(err.message),
      );
    rejects(785, {}, 'channels', /785 values per image is not 1 x side\^2/);
    rejects(784, { channels: 3 }, 'channels', /784 values per image is not 3 x side\^2/);
    rejects(3 * 28 * 28, {}, 'channels', /not 1 x side\^2/);
    rejects(36, {}, 'filters', /side 6 is not divisible by 4 = 2\^2/);
    rejects(784, { filters: [16, 8, 4] }, 'filters', /side 28 is not divisible by 8 = 2\^3/);
    rejects(784, { kernel: 4 }, 'kernel', /odd/);
    rejects(784, { kernel: 0 }, 'kernel', /outside/);
    assert.doesNotThrow(() => createConvAutoencoder(36, { filters: [4] }));
  });
});

describe('conv-ae computation', () => {
  it('is conv (same padding), activation, 2x2 max-pool, then a 2x2 stride-2 transposed conv (NHWC)', () => {
    // One filter whose 3x3 kernel passes the centre pixel: the code is the 2x2 max-pool of the
    // image; a decoder kernel of ones copies each code value into its 2x2 block.
    const model = createConvAutoencoder(16, { filters: [1] });
    const params = new Float32Array(flatLength(model.paramSpecs));
    const offsets = paramOffsets(model.paramSpecs);
    params[offsets.get('enc0.w')!.offset + 4] = 1;
    params.fill(1, offsets.get('dec0.w')!.offset, offsets.get('dec0.w')!.offset + 4);
    // prettier-ignore
    const image = Float32Array.from([
      0.1, 0.5, 0.2, 0.0,
      0.3, 0.4, 0.9, 0.6,
      0.0, 0.0, 0.7, 0.1,
      0.2, 0.8, 0.3, 0.3,
    ]);
    const code = model.encode(params, image, 1);
    assert.deepEqual(code, Float32Array.from([0.5, 0.9, 0.8, 0.7]));
    const up = (v: number): number => 1 / (1 + Math.exp(-v));
    // prettier-ignore
    const expected = [
      0.5, 0.5, 0.9, 0.9,
      0.5, 0.5, 0.9, 0.9,
      0.8, 0.8, 0.7, 0.7,
      0.8, 0.8, 0.7, 0.7,
    ].map(up);
    const rec = model.reconstruct(params, image, 1);
    rec.forEach((v, i) => assert.ok(Math.abs(v - expected[i]!) < 1e-6, `pixel ${i}: ${v} vs ${expected[i]}`));
    // The loss: per image sum over pixels, mean over the batch.
    const sse = expected.reduce((s, v, i) => s + (v - image[i]!) ** 2, 0);
    const two = Float32Array.from([...image, ...image]);
    const { loss } = model.step(params, two, 2, new Rng(0));
    assert.ok(Math.abs(loss - sse) < 1e-5, `${loss} vs ${sse}`);
    assert.ok(Math.abs(model.evaluate(params, two, 2)['reconstruction_loss']! - 2 * sse) < 1e-5);
  });

  it('encodes, decodes and reconstructs with the right shapes and ranges, leaking no tensors', () => {
    const model = createConvAutoencoder(784, {});
    const params = model.init(new Rng(3));
    const n = 3;
    const batch = blobImages(28, n, new Rng(4));
    const before = tf.memory().numTensors;
    const codes = model.encode(params, batch, n);
    assert.equal(codes.length, n * 392);
    assert.ok(
      codes.every((v) => v >= 0 && Number.isFinite(v)),
      'max-pooled ReLU codes are non-negative',
    );
    assert.ok(codes.some((v) => v > 0));
    const decoded = model.decode(params, codes, n);
    const rec = model.reconstruct(params, batch, n);
    assert.equal(rec.length, n * 784);
    assert.ok(rec.every((v) => v > 0 && v < 1));
    assert.deepEqual(rec, decoded);
    const r = model.step(params, batch, n, new Rng(5));
    assert.equal(r.grads.length, params.length);
    assert.ok(Number.isFinite(r.loss) && r.loss > 0);
    model.evaluate(params, batch, n);
    assert.equal(tf.memory().numTensors, before);
  });
});

describe('conv-ae gradients (finite differences, float32)', () => {
  // eps 1e-3 keeps ReLU and max-pool switches within eps rare (at 1e-2 most seeds cross one); the
  // float32 rounding of the loss, which grows as 1/eps, stays inside atol 2e-3 for losses up to
  // about 25, so the cross-entropy cases (a loss of about 45 on 8x8 images) use 4x4 images.
  // Checked over 12 seeds per case: worst ratio 0.86.
  const cases: { side: number; hyper: HyperValues }[] = [
    { side: 8, hyper: { filters: [2, 2] } },
    { side: 8, hyper: { filters: [2, 2], activation: 'sigmoid' } },
    { side: 8, hyper: { filters: [2, 3], activation: 'tanh', kernel: 1 } },
    { side: 4, hyper: { filters: [2, 2], loss: 'cross-entropy' } },
    { side: 4, hyper: { filters: [2], activation: 'tanh', loss: 'cross-entropy', channels: 2 } },
  ];
  for (const { side, hyper } of cases) {
    it(`${side}x${side} images, ${JSON.stringify(hyper)}`, () => {
      const channels = (hyper['channels'] as number | undefined) ?? 1;
      const model = createConvAutoencoder(side * side * channels, hyper);
      const params = model.init(new Rng(1));
      // Non-zero biases, so that the bias gradients are exercised away from the initial zeros.
      const offsets = paramOffsets(model.paramSpecs);
      const noise = new Rng(9);
      for (const s of model.paramSpecs) {
        if (s.shape.length !== 1) continue;
        const { offset, size } = offsets.get(s.name)!;
        for (let i = offset; i < offset + size; i++) params[i] = 0.2 * (noise.uniform() - 0.3);
      }
      const batchSize = 2;
      const batch = new Rng(2).fillUniform(new Float32Array(batchSize * model.inputSize));
      const { grads } = model.step(params, batch, batchSize, new Rng(0));
      const step = (p: Float32Array): number => model.step(p, batch, batchSize, new Rng(0)).loss;
      const r = checkGradient(step, params, grads, 1e-3, { atol: 2e-3, rtol: 1e-2, kinks: true });
      // One ReLU near zero can put a switch within eps of every parameter upstream of it.
      assert.ok(r.worstRatio <= 1 && r.kinks <= params.length / 3, JSON.stringify(r));
    });
  }
});

describe('conv-ae training', () => {
  // 12x12 images rather than 28x28: tfjs's cpu Conv2DBackpropFilter kernel makes a default-sized
  // step take about a second here, too slow for 30 of them in a unit test.
  it('loss falls within 30 Adam steps on blob images', () => {
    const side = 12;
    const count = 8;
    const model = createConvAutoencoder(side * side, { filters: [8, 4] });
    const data = blobImages(side, count, new Rng(6));
    const params = model.init(new Rng(7));
    const r = train(model, params, data, count, {
      epochs: 30,
      batchSize: count,
      lr: 1e-2,
      adam: true,
      rng: new Rng(8),
    });
    assert.ok(r.last < 0.6 * r.first, `${r.first} -> ${r.last}`);
  });
});
