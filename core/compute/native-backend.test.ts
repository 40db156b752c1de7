import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { Rng } from '../data/rng.js';
import { selectBackend } from './backend.js';
import { nativeAddon } from './native-addon.js';
import { tf } from './tf.js';

/** Every native kernel against tfjs's reference cpu kernels, on the same inputs. */

const rng = new Rng(20261127);

/** Uniform values in [lo, hi). */
function rand(n: number, lo = -1, hi = 1): Float32Array {
  const out = rng.fillUniform(new Float32Array(n));
  for (let i = 0; i < n; i++) out[i] = lo + (hi - lo) * out[i]!;
  return out;
}

function size(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

interface Result {
  shape: number[];
  dtype: string;
  values: Float32Array | Int32Array | Uint8Array;
}

async function run(
  backend: 'cpu' | 'native',
  build: () => tf.Tensor | tf.Tensor[],
  threads = 1,
): Promise<Result[]> {
  await selectBackend(backend, { threads });
  return tf.tidy(() => {
    const out = build();
    return (Array.isArray(out) ? out : [out]).map((t) => ({
      shape: t.shape,
      dtype: t.dtype,
      values: t.dataSync() as Result['values'],
    }));
  });
}

/**
 * Runs `build` on the cpu backend and on the native one with 1 and 2 threads (the kernels split
 * their loops over threads), and compares shapes, dtypes and values to float32 tolerance.
 */
async function same(label: string, build: () => tf.Tensor | tf.Tensor[], tol = 1e-5): Promise<void> {
  const want = await run('cpu', build);
  for (const threads of [1, 2])
    compare(`${label} (${threads} threads)`, await run('native', build, threads), want, tol);
}

function compare(label: string, got: Result[], want: Result[], tol: number): void {
  assert.equal(got.length, want.length, label);
  want.forEach((w, j) => {
    const g = got[j]!;
    assert.deepEqual(g.shape, w.shape, `${label}: shape of output ${j}`);
    assert.equal(g.dtype, w.dtype, `${label}: dtype of output ${j}`);
    assert.equal(g.values.length, w.values.length, label);
    for (let i = 0; i < w.values.length; i++) {
      const a = g.values[i]!;
      const b = w.values[i]!;
      if (Number.isNaN(b)) {
        assert.ok(Number.isNaN(a), `${label}: output ${j}[${i}] is ${a}, want NaN`);
        continue;
      }
      const ok = a === b || Math.abs(a - b) <= tol * Math.max(1, Math.abs(b));
      assert.ok(ok, `${label}: output ${j}[${i}] is ${a}, want ${b}`);
    }
  });
}

before(async () => {
  // Fails, saying why, where the addon is not built: these tests exist to check it.
  await selectBackend('native', { threads: 1 });
});

describe('native BatchMatMul and _FusedMatMul', () => {
  it('match the cpu kernels for every transpose, batch layout, odd, size-1 and size-0 shape', async () => {
    const cases: [number[], number, number, number][] = [
      [[], 3, 5, 7],
      [[], 1, 1, 1],
      [[], 17, 1, 9],
      [[], 64, 33, 20],
      [[], 0, 4, 3],
      [[], 3, 0, 4],
      [[], 3, 4, 0],
      [[2], 5, 3, 4],
      [[2, 3], 4, 6, 1],
    ];
    for (const [outer, m, k, n] of cases) {
      for (const ta of [false, true]) {
        for (const tb of [false, true]) {
          const aShape = [...outer, ...(ta ? [k, m] : [m, k])];
          const bShape = [...outer, ...(tb ? [n, k] : [k, n])];
          const a = rand(size(aShape));
          const b = rand(size(bShape));
          await same(`[${aShape}]x[${bShape}] ta=${ta} tb=${tb}`, () =>
            tf.matMul(tf.tensor(a, aShape), tf.tensor(b, bShape), ta, tb),
          );
        }
      }
    }
  });

  it('broadcast one operand over the other one batch', async () => {
    const a = rand(3 * 4 * 5);
    const w = rand(5 * 6);
    await same('[3,4,5]x[5,6]', () => tf.matMul(tf.tensor(a, [3, 4, 5]), tf.tensor(w, [5, 6])));
    await same('[1,5,6] under [3,4,5]', () => tf.matMul(tf.tensor(a, [3, 4, 5]), tf.tensor(w, [1, 5, 6])));
    const w3 = rand(90);
    await same('[4,5]x[3,5,6]', () =>
      tf.matMul(tf.tensor(a.subarray(0, 20), [4, 5]), tf.tensor(w3, [3, 5, 6])),
    );
    // Both batched differently: handed to the cpu kernel, same answer.
    const p = rand(12);
    const q = rand(18);
    await same('[2,1,2,3]x[1,3,3,2]', () =>
      tf.matMul(tf.tensor(p, [2, 1, 2, 3]), tf.tensor(q, [1, 3, 3, 2])),
    );
  });

  it('fuse bias and activation like tfjs', async () => {
    const a = rand(7 * 9);
    const b = rand(9 * 5);
    for (const activation of ['linear', 'relu', 'sigmoid', 'relu6', 'leakyrelu', 'elu'] as const) {
      for (const biasShape of [[5], [1], [1, 5], [7, 1]]) {
        const bias = rand(size(biasShape), -3, 3);
        await same(`${activation} bias [${biasShape}]`, () =>
          tf.fused.matMul({
            a: tf.tensor(a, [7, 9]),
            b: tf.tensor(b, [9, 5]),
            bias: tf.tensor(bias, biasShape),
            activation,
            leakyreluAlpha: 0.1,
          }),
        );
      }
    }
    const slopes = rand(5);
    await same('prelu', () =>
      tf.fused.matMul({
        a: tf.tensor(a, [7, 9]),
        b: tf.tensor(b, [9, 5]),
        activation: 'prelu',
        preluActivationWeights: tf.tensor(slopes, [5]),
      }),
    );
  });
});

describe('native elementwise kernels', () => {
  const shapes: [number[], number[]][] = [
    [
      [4, 5],
      [4, 5],
    ],
    [[4, 5], []],
    [[], [4, 5]],
    [[4, 5], [5]],
    [[5], [4, 5]],
    [
      [4, 5],
      [4, 1],
    ],
    [
      [4, 1],
      [1, 5],
    ],
    [
      [2, 3, 4],
      [2, 1, 4],
    ],
    [
      [2, 1, 4],
      [3, 1],
    ],
    [[1, 1, 7], [7]],
    [[0, 3], [3]],
    [[1], [1]],
    [
      [2, 3, 1, 5],
      [3, 4, 1],
    ],
  ];

  it('binary ops broadcast on each axis like the cpu kernels', async () => {
    const ops: [string, (a: tf.Tensor, b: tf.Tensor) => tf.Tensor][] = [
      ['add', tf.add],
      ['sub', tf.sub],
      ['mul', tf.mul],
      ['div', tf.div],
      ['squaredDifference', tf.squaredDifference],
      ['maximum', tf.maximum],
      ['minimum', tf.minimum],
      ['less', tf.less],
      ['lessEqual', tf.lessEqual],
      ['greater', tf.greater],
      ['greaterEqual', tf.greaterEqual],
      ['equal', tf.equal],
      ['notEqual', tf.notEqual],
    ];
    for (const [aShape, bShape] of shapes) {
      const a = rand(size(aShape));
      const b = rand(size(bShape));
      // Some equal values, so that equality and ties are exercised.
      if (a.length > 0 && b.length > 0) a[0] = b[0]!;
      for (const [name, op] of ops) {
        await same(`${name} [${aShape}] [${bShape}]`, () => op(tf.tensor(a, aShape), tf.tensor(b, bShape)));
      }
    }
  });

  it('propagate NaN and infinities like the cpu kernels', async () => {
    const a = Float32Array.from([NaN, 1, -Infinity, Infinity, 0, -0, 2]);
    const b = Float32Array.from([1, NaN, 3, Infinity, 0, 0, -Infinity]);
    for (const op of [tf.add, tf.sub, tf.mul, tf.div, tf.maximum, tf.minimum, tf.less, tf.equal]) {
      await same(`${op.name} specials`, () => op(tf.tensor(a), tf.tensor(b)));
    }
  });

  it('leave int32 and bool inputs to the cpu kernels', async () => {
    const a = Int32Array.from([1, -2, 3, 4]);
    await same('int32 add', () => tf.add(tf.tensor(a, [2, 2], 'int32'), tf.tensor(a, [2, 2], 'int32')));
    await same('int32 neg', () => tf.neg(tf.tensor(a, [4], 'int32')));
    const u = rand(6);
    const v = rand(3);
    await same('bool cast then mul', () =>
      tf.mul(tf.cast(tf.less(tf.tensor(u, [2, 3]), 0), 'float32'), tf.tensor(v, [3])),
    );
  });

  it('unary ops match the cpu kernels across their ranges', async () => {
    const wide = Float32Array.from([...rand(200, -20, 20), 0, -0, 13.9, 14, -13.9, -14, NaN, 1e-30]);
    const positive = rand(100, 1e-4, 50);
    const ops: [string, (x: tf.Tensor) => tf.Tensor, Float32Array][] = [
      ['sigmoid', tf.sigmoid, wide],
      ['relu', tf.relu, wide],
      ['exp', tf.exp, wide],
      ['log', tf.log, positive],
      ['neg', tf.neg, wide],
      ['abs', tf.abs, wide],
      ['square', tf.square, wide],
      ['sqrt', tf.sqrt, positive],
      ['rsqrt', tf.rsqrt, positive],
      ['tanh', tf.tanh, wide],
      ['softplus', tf.softplus, wide],
      ['step', (x) => tf.step(x, 0.25), wide],
      ['reciprocal', tf.reciprocal, wide],
      ['log1p', tf.log1p, positive],
      ['relu6', tf.relu6, wide],
      ['leakyRelu', (x) => tf.leakyRelu(x, 0.3), wide],
      ['elu', tf.elu, wide],
    ];
    for (const [name, op, values] of ops) {
      await same(name, () => op(tf.tensor(values, [values.length])), 2e-6);
      await same(`${name} size 0`, () => op(tf.tensor(new Float32Array(0), [0, 3])));
    }
  });
});

describe('native kernels on tensors large enough to be split across threads', () => {
  it('elementwise ops, reductions and the optimizer updates', async () => {
    const big = rand(300 * 257, -4, 4);
    const row = rand(257);
    const col = rand(300);
    await same('add [300,257] [257]', () => tf.add(tf.tensor(big, [300, 257]), tf.tensor(row, [257])));
    await same('mul [300,257] [300,1]', () => tf.mul(tf.tensor(big, [300, 257]), tf.tensor(col, [300, 1])));
    await same('less [300,257] [257]', () => tf.less(tf.tensor(big, [300, 257]), tf.tensor(row, [257])));
    await same('sigmoid', () => tf.sigmoid(tf.tensor(big)));
    for (const axis of [0, 1]) {
      await same(`sum axis ${axis}`, () => tf.sum(tf.tensor(big, [300, 257]), axis));
      await same(`max axis ${axis}`, () => tf.max(tf.tensor(big, [300, 257]), axis));
    }
    // One optimizer step on 2 threads equals the same step on 1 (each element is updated alone).
    const addon = nativeAddon();
    const grads = rand(200_000);
    const results = [1, 2].map((threads) => {
      addon.setThreads(threads);
      const p = rand(200_000).fill(0.5);
      const v = new Float32Array(p.length).fill(0.1);
      const m = new Float32Array(p.length).fill(0.2);
      addon.sgd(p, grads, v, 0.1, 0.9, false);
      addon.adam(p, grads, m, v, 0.9, 0.999, 0.01, 1.2, 1e-8);
      return p;
    });
    assert.deepEqual(results[1], results[0]);
    addon.setThreads(1);
  });
});

describe('native reductions', () => {
  it('match the cpu kernels over every run of axes, with and without keepDims', async () => {
    const shapes = [[3, 4, 5], [2, 1, 3, 4], [7], [1, 9], [5, 1]];
    for (const shape of shapes) {
      const x = rand(size(shape), -5, 5);
      const axesList: (number | number[] | null)[] = [null];
      for (let i = 0; i < shape.length; i++)
        for (let j = i; j < shape.length; j++) axesList.push(range(i, j));
      axesList.push(-1);
      if (shape.length >= 3) axesList.push([0, 2]);
      for (const axes of axesList) {
        for (const keepDims of [false, true]) {
          for (const [name, op] of [
            ['sum', tf.sum],
            ['mean', tf.mean],
            ['max', tf.max],
            ['min', tf.min],
          ] as const) {
            await same(`${name} [${shape}] axes ${JSON.stringify(axes)} keepDims ${keepDims}`, () =>
              op(tf.tensor(x, shape), axes ?? undefined, keepDims),
            );
          }
        }
      }
    }
    await same('sum of an empty tensor', () => tf.sum(tf.tensor(new Float32Array(0), [0, 4]), 0));
    await same('max with NaN', () => tf.max(tf.tensor(Float32Array.from([1, NaN, 3, 4]), [2, 2]), 1));
  });
});

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}

describe('native convolution and pooling', () => {
  it('conv2d, its gradients and conv2dTranspose match the cpu kernels', async () => {
    const cases: {
      x: [number, number, number, number];
      f: [number, number, number, number];
      stride: number | [number, number];
      pad: 'same' | 'valid' | number;
      dilation: number;
    }[] = [
      { x: [2, 7, 6, 3], f: [3, 3, 3, 4], stride: 1, pad: 'same', dilation: 1 },
      { x: [1, 8, 8, 1], f: [3, 2, 1, 2], stride: 2, pad: 'valid', dilation: 1 },
      { x: [3, 9, 7, 2], f: [2, 3, 2, 5], stride: [2, 1], pad: 'same', dilation: 1 },
      { x: [1, 9, 9, 2], f: [3, 3, 2, 3], stride: 1, pad: 'same', dilation: 2 },
      { x: [2, 6, 5, 3], f: [1, 1, 3, 4], stride: 1, pad: 'valid', dilation: 1 },
      { x: [1, 5, 5, 1], f: [3, 3, 1, 1], stride: 1, pad: 1, dilation: 1 },
      { x: [1, 1, 1, 1], f: [1, 1, 1, 1], stride: 1, pad: 'valid', dilation: 1 },
    ];
    for (const c of cases) {
      const x = rand(size(c.x));
      const f = rand(size(c.f));
      const label = `x [${c.x}] f [${c.f}] stride ${String(c.stride)} pad ${c.pad} dilation ${c.dilation}`;
      await same(`conv2d ${label}`, () =>
        tf.conv2d(tf.tensor4d(x, c.x), tf.tensor4d(f, c.f), c.stride, c.pad, 'NHWC', c.dilation),
      );
      if (c.dilation !== 1) continue; // tfjs has no gradient for dilated strided conv2d on cpu either way
      await same(
        `conv2d gradients ${label}`,
        () => {
          const g = tf.grads((xt: tf.Tensor, ft: tf.Tensor) =>
            tf.sum(tf.square(tf.conv2d(xt as tf.Tensor4D, ft as tf.Tensor4D, c.stride, c.pad))),
          );
          return g([tf.tensor4d(x, c.x), tf.tensor4d(f, c.f)]);
        },
        1e-4,
      );
    }
    // The decoder of the convolutional autoencoder: a stride-2 transposed convolution and its gradients.
    const x = rand(3 * 7 * 7 * 8);
    const w = rand(2 * 2 * 16 * 8);
    await same(
      'conv2dTranspose and gradients',
      () => {
        const g = tf.grads((xt: tf.Tensor, wt: tf.Tensor) =>
          tf.sum(
            tf.square(tf.conv2dTranspose(xt as tf.Tensor4D, wt as tf.Tensor4D, [3, 14, 14, 16], 2, 'valid')),
          ),
        );
        return [
          tf.conv2dTranspose(
            tf.tensor4d(x, [3, 7, 7, 8]),
            tf.tensor4d(w, [2, 2, 16, 8]),
            [3, 14, 14, 16],
            2,
            'valid',
          ),
          ...g([tf.tensor4d(x, [3, 7, 7, 8]), tf.tensor4d(w, [2, 2, 16, 8])]),
        ];
      },
      1e-4,
    );
  });

  it('fused conv2d (bias, activation) and its relu gradients match the cpu kernels', async () => {
    const cases: {
      x: [number, number, number, number];
      f: [number, number, number, number];
      stride: number;
      pad: 'same' | 'valid';
      activation: 'linear' | 'relu' | 'sigmoid' | 'elu';
      bias: boolean;
    }[] = [
      // The convolutional autoencoder's first layer, on a batch of 3.
      { x: [3, 28, 28, 1], f: [3, 3, 1, 16], stride: 1, pad: 'same', activation: 'relu', bias: true },
      { x: [2, 7, 6, 3], f: [3, 3, 3, 4], stride: 2, pad: 'valid', activation: 'linear', bias: true },
      { x: [2, 6, 5, 3], f: [1, 1, 3, 4], stride: 1, pad: 'valid', activation: 'relu', bias: true },
      { x: [1, 9, 9, 2], f: [3, 3, 2, 3], stride: 1, pad: 'same', activation: 'sigmoid', bias: true },
      { x: [2, 5, 5, 2], f: [3, 3, 2, 2], stride: 1, pad: 'same', activation: 'elu', bias: false },
    ];
    for (const c of cases) {
      const x = rand(size(c.x));
      const f = rand(size(c.f));
      const b = rand(c.f[3]);
      const label = `x [${c.x}] f [${c.f}] ${c.activation}${c.bias ? ' + bias' : ''}`;
      const fused = (xt: tf.Tensor, ft: tf.Tensor, bt: tf.Tensor): tf.Tensor4D =>
        tf.fused.conv2d({
          x: xt as tf.Tensor4D,
          filter: ft as tf.Tensor4D,
          strides: c.stride,
          pad: c.pad,
          ...(c.bias ? { bias: bt } : {}),
          activation: c.activation,
        });
      await same(`fused conv2d ${label}`, () =>
        fused(tf.tensor4d(x, c.x), tf.tensor4d(f, c.f), tf.tensor1d(b)),
      );
      if (c.activation !== 'linear' && c.activation !== 'relu') continue; // tfjs differentiates those only
      await same(
        `fused conv2d gradients ${label}`,
        () =>
          tf.grads((xt: tf.Tensor, ft: tf.Tensor, bt: tf.Tensor) => tf.sum(tf.square(fused(xt, ft, bt))))([
            tf.tensor4d(x, c.x),
            tf.tensor4d(f, c.f),
            tf.tensor1d(b),
          ]),
        1e-4,
      );
    }
  });

  it("relu's gradient, one native kernel, gives the cpu formula's values: zeros, negatives and NaN included", async () => {
    const x = rand(3 * 50);
    x[0] = 0;
    x[1] = NaN;
    x[2] = -0;
    x[3] = Infinity;
    x[4] = -Infinity;
    const dy = rand(3 * 50);
    dy[5] = Infinity;
    dy[6] = NaN;
    await same(
      'relu gradient',
      () =>
        tf.grad((xt: tf.Tensor) => tf.sum(tf.mul(tf.relu(xt), tf.tensor2d(dy, [3, 50]))))(
          tf.tensor2d(x, [3, 50]),
        ),
      0,
    );
  });

  it('maxPool and its gradient match the cpu kernels, ties included', async () => {
    const cases: { x: [number, number, number, number]; k: number; s: number; pad: 'same' | 'valid' }[] = [
      { x: [2, 8, 8, 3], k: 2, s: 2, pad: 'valid' },
      { x: [1, 7, 5, 2], k: 3, s: 2, pad: 'same' },
      { x: [2, 6, 6, 1], k: 3, s: 1, pad: 'valid' },
      { x: [1, 5, 5, 4], k: 2, s: 2, pad: 'same' },
      // More channels than the kernel's block of 256: the blocks must map back to the right channels.
      { x: [1, 4, 4, 300], k: 2, s: 2, pad: 'valid' },
    ];
    for (const c of cases) {
      const x = rand(size(c.x));
      // ReLU outputs: many zeros, so windows hold ties and the first maximum must win.
      for (let i = 0; i < x.length; i++) if (x[i]! < 0.2) x[i] = 0;
      const label = `x [${c.x}] k ${c.k} s ${c.s} ${c.pad}`;
      await same(`maxPool ${label}`, () => tf.maxPool(tf.tensor4d(x, c.x), c.k, c.s, c.pad));
      await same(`maxPool gradient ${label}`, () =>
        tf.grad((xt: tf.Tensor) => tf.sum(tf.mul(tf.maxPool(xt as tf.Tensor4D, c.k, c.s, c.pad), 3)))(
          tf.tensor4d(x, c.x),
        ),
      );
    }
  });
});

describe('native backend in training', () => {
  it('gives the cpu backend gradients for a small dense autoencoder', async () => {
    const x = rand(16 * 20, 0, 1);
    const w1 = rand(20 * 8);
    const b1 = rand(8);
    const w2 = rand(8 * 20);
    const b2 = rand(20);
    await same(
      'autoencoder gradients',
      () => {
        const f = (a: tf.Tensor, b: tf.Tensor, c: tf.Tensor, d: tf.Tensor): tf.Scalar => {
          const xt = tf.tensor2d(x, [16, 20]);
          const h = tf.sigmoid(tf.add(tf.matMul(xt, a as tf.Tensor2D), b));
          const logits = tf.add(tf.matMul(h, c as tf.Tensor2D), d);
          return tf.mean(tf.sum(tf.sub(tf.softplus(logits), tf.mul(xt, logits)), 1));
        };
        const r = tf.valueAndGrads(f)([
          tf.tensor(w1, [20, 8]),
          tf.tensor(b1),
          tf.tensor(w2, [8, 20]),
          tf.tensor(b2),
        ]);
        return [r.value, ...r.grads];
      },
      1e-4,
    );
  });

  it('leaks no tensors', async () => {
    await selectBackend('native', { threads: 1 });
    const before = tf.memory().numTensors;
    tf.tidy(() => {
      tf.sum(tf.relu(tf.matMul(tf.ones([3, 4]), tf.ones([4, 5]))));
      tf.maxPool(
        tf.conv2d(tf.ones([1, 4, 4, 1]) as tf.Tensor4D, tf.ones([3, 3, 1, 2]) as tf.Tensor4D, 1, 'same'),
        2,
        2,
        'valid',
      );
    });
    assert.equal(tf.memory().numTensors, before);
  });
});

describe('the addon itself', () => {
  it('rejects buffers too short for the sizes given instead of reading past them', () => {
    const addon = nativeAddon();
    assert.throws(
      () =>
        addon.gemm(
          false,
          false,
          1,
          2,
          2,
          2,
          new Float32Array(3),
          0,
          new Float32Array(4),
          0,
          new Float32Array(4),
          null,
          0,
          0,
        ),
      /gemm: argument 6 holds 3 elements, needs 4/,
    );
    assert.throws(
      () => addon.unary(0, new Float32Array(4), new Float32Array(2), 0),
      /unary: argument 2 holds 2/,
    );
    assert.throws(
      () => addon.reduce(0, new Float32Array(5), new Float32Array(2), 2, 3, 1),
      /reduce: argument 1 holds 5 elements, needs 6/,
    );
    assert.throws(
      () => addon.sgd(new Float32Array(4), new Float32Array(3), new Float32Array(4), 0.1, 0, false),
      /sgd: argument 1/,
    );
    assert.throws(
      () =>
        addon.conv2d(
          Float64Array.from([1, 4, 4, 1, 4, 4, 1, 3, 3, 0, 1, 1, 1, 1, 1]),
          new Float32Array(16),
          new Float32Array(9),
          new Float32Array(16),
        ),
      /stride or dilation below 1/,
    );
    assert.throws(() => addon.setThreads(0), /setThreads: argument 0 must be in \[1, 1024\]/);
  });

  it('sets and reports the OpenBLAS thread count', () => {
    const addon = nativeAddon();
    addon.setThreads(2);
    assert.equal(addon.threads(), 2);
    addon.setThreads(1);
    assert.equal(addon.threads(), 1);
    assert.match(addon.blasConfig(), /OpenBLAS/);
  });
});
