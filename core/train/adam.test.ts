import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Rng } from '../data/rng.js';
import { CheckpointError, ConfigError } from '../errors.js';
import { Adam } from './adam.js';

/** Float64 reference, written as in Kingma & Ba's Algorithm 1 (explicit m-hat and v-hat). */
function reference(
  p0: Float32Array,
  grads: Float32Array[],
  lr: number,
  b1: number,
  b2: number,
  eps: number,
): number[] {
  const p = Array.from(p0);
  const m = p.map(() => 0);
  const v = p.map(() => 0);
  grads.forEach((g, k) => {
    const t = k + 1;
    for (let i = 0; i < p.length; i++) {
      m[i] = b1 * m[i]! + (1 - b1) * g[i]!;
      v[i] = b2 * v[i]! + (1 - b2) * g[i]! * g[i]!;
      const mHat = m[i]! / (1 - b1 ** t);
      const vHat = v[i]! / (1 - b2 ** t);
      p[i]! -= (lr * mHat) / (Math.sqrt(vHat) + eps);
    }
  });
  return p;
}

function assertClose(actual: Float32Array, expected: number[], rel = 2e-6): void {
  assert.equal(actual.length, expected.length);
  for (let i = 0; i < actual.length; i++) {
    const tol = rel * Math.max(1, Math.abs(expected[i]!));
    assert.ok(Math.abs(actual[i]! - expected[i]!) <= tol, `index ${i}: ${actual[i]} vs ${expected[i]}`);
  }
}

test('the first step moves every parameter by lr against the sign of its gradient', () => {
  // m-hat = g and v-hat = g^2 after one step, so the update is lr * g / (|g| + eps).
  const opt = new Adam(3);
  const p = new Float32Array([1, 1, 1]);
  opt.step(p, new Float32Array([0.5, -2, 1e-3]), 0.01);
  assertClose(p, [0.99, 1.01, 0.99]);
  assert.equal(opt.steps, 1);
});

test('several steps match a float64 reference, for default and custom betas', () => {
  for (const [b1, b2, eps, native] of [
    [0.9, 0.999, 1e-8, true],
    [0.5, 0.9, 1e-3, true],
    [0.9, 0.999, 1e-8, false],
    [0.5, 0.9, 1e-3, false],
  ] as const) {
    const rng = new Rng(5);
    const p0 = rng.fillNormal(new Float32Array(301));
    const grads = Array.from({ length: 8 }, () => rng.fillNormal(new Float32Array(301)));
    const opt = new Adam(p0.length, { beta1: b1, beta2: b2, eps, native });
    const p = p0.slice();
    for (const g of grads) opt.step(p, g, 0.003);
    assertClose(p, reference(p0, grads, 0.003, b1, b2, eps));
  }
});

test('converges on an ill-conditioned quadratic', () => {
  // f(p) = 0.5 * sum a_i (p_i - c_i)^2, curvatures a_i spread over two orders of magnitude.
  const n = 500;
  const rng = new Rng(9);
  const a = Float64Array.from({ length: n }, () => 0.1 + 10 * rng.uniform());
  const c = rng.fillNormal(new Float32Array(n));
  const p = new Float32Array(n);
  const g = new Float32Array(n);
  const opt = new Adam(n);
  for (let t = 0; t < 2000; t++) {
    const lr = t < 1500 ? 0.05 : 0.005;
    for (let i = 0; i < n; i++) g[i] = a[i]! * (p[i]! - c[i]!);
    opt.step(p, g, lr);
  }
  let worst = 0;
  for (let i = 0; i < n; i++) worst = Math.max(worst, Math.abs(p[i]! - c[i]!));
  assert.ok(worst < 1e-2, `max |p - c| = ${worst}`);
});

test('state save and load continue bit-exactly, step counter included', () => {
  const rng = new Rng(21);
  const n = 1000;
  const p = rng.fillNormal(new Float32Array(n));
  const grads = Array.from({ length: 10 }, () => rng.fillNormal(new Float32Array(n)));
  const a = new Adam(n);
  for (const g of grads.slice(0, 4)) a.step(p, g, 0.01);
  const saved = a.state();
  assert.equal(saved['t'], 4);

  const b = new Adam(n);
  b.loadState(saved);
  const pb = p.slice();
  for (const g of grads.slice(4)) {
    a.step(p, g, 0.01);
    b.step(pb, g, 0.01);
  }
  assert.equal(b.steps, 10);
  assert.deepEqual(Buffer.from(pb.buffer), Buffer.from(p.buffer));
});

test('loadState names the bad key; bad settings name the field', () => {
  const opt = new Adam(2);
  const good = { m: new Float32Array(2), v: new Float32Array(2), t: 3 };
  const check = (state: Record<string, Float32Array | number>, word: string): void =>
    assert.throws(
      () => opt.loadState(state),
      (e: unknown) =>
        e instanceof CheckpointError && e.code === 'CHECKPOINT_INVALID' && e.message.includes(word),
    );
  check({ ...good, m: new Float32Array(5) }, '"m"');
  check({ m: good.m, t: 3 }, '"v"');
  check({ ...good, t: 1.5 }, '"t"');
  for (const [field, options] of [
    ['beta1', { beta1: 1 }],
    ['beta2', { beta2: -0.5 }],
    ['eps', { eps: 0 }],
  ] as const) {
    assert.throws(
      () => new Adam(2, options),
      (e: unknown) => e instanceof ConfigError && e.field === field,
    );
  }
});
