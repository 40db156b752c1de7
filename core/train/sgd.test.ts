import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Rng } from '../data/rng.js';
import { CheckpointError, ConfigError } from '../errors.js';
import { optionalNativeAddon } from '../compute/native-addon.js';
import { Sgd } from './sgd.js';

/** Float64 reference: v = m*v - lr*g; p += v (or, Nesterov, p += m*v - lr*g). */
function reference(
  p0: Float32Array,
  grads: Float32Array[],
  lr: number,
  momenta: number[],
  nesterov: boolean,
): number[] {
  const p = Array.from(p0);
  const v = p.map(() => 0);
  grads.forEach((g, t) => {
    const m = momenta[t]!;
    for (let i = 0; i < p.length; i++) {
      v[i] = m * v[i]! - lr * g[i]!;
      p[i]! += nesterov ? m * v[i]! - lr * g[i]! : v[i]!;
    }
  });
  return p;
}

function assertClose(actual: Float32Array, expected: number[]): void {
  assert.equal(actual.length, expected.length);
  for (let i = 0; i < actual.length; i++) {
    const tol = 2e-6 * Math.max(1, Math.abs(expected[i]!));
    assert.ok(Math.abs(actual[i]! - expected[i]!) <= tol, `index ${i}: ${actual[i]} vs ${expected[i]}`);
  }
}

function randomGrads(rng: Rng, n: number, steps: number): Float32Array[] {
  return Array.from({ length: steps }, () => rng.fillNormal(new Float32Array(n)));
}

test('classic momentum matches hand-computed values', () => {
  const opt = new Sgd(1, { momentum: 0.5 });
  const p = new Float32Array([1]);
  const g = new Float32Array([1]);
  const seen: number[] = [];
  for (let t = 0; t < 3; t++) {
    opt.step(p, g, 0.1);
    seen.push(p[0]!);
  }
  // v: -0.1, -0.15, -0.175; p: 0.9, 0.75, 0.575
  assertClose(new Float32Array(seen), [0.9, 0.75, 0.575]);
});

test('classic and Nesterov momentum match a float64 reference, in the native pass and in JavaScript', () => {
  assert.ok(optionalNativeAddon(), 'the native addon is built');
  for (const [nesterov, native] of [
    [false, true],
    [true, true],
    [false, false],
    [true, false],
  ] as const) {
    const rng = new Rng(7);
    const p0 = rng.fillNormal(new Float32Array(257));
    const grads = randomGrads(rng, p0.length, 6);
    const opt = new Sgd(p0.length, { momentum: 0.9, nesterov, native });
    const p = p0.slice();
    for (const g of grads) opt.step(p, g, 0.05);
    assertClose(
      p,
      reference(
        p0,
        grads,
        0.05,
        grads.map(() => 0.9),
        nesterov,
      ),
    );
  }
});

test('Nesterov differs from classic momentum after the first step', () => {
  const a = new Sgd(1, { momentum: 0.9 });
  const b = new Sgd(1, { momentum: 0.9, nesterov: true });
  const pa = new Float32Array([0]);
  const pb = new Float32Array([0]);
  const g = new Float32Array([1]);
  a.step(pa, g, 0.1);
  b.step(pb, g, 0.1);
  assertClose(pa, [-0.1]);
  assertClose(pb, [-0.19]);
});

test('momentum can switch between steps (0.5 then 0.9) and keeps the velocity', () => {
  const rng = new Rng(11);
  const p0 = rng.fillNormal(new Float32Array(64));
  const grads = randomGrads(rng, 64, 6);
  const momenta = [0.5, 0.5, 0.5, 0.9, 0.9, 0.9];
  const opt = new Sgd(64, { momentum: 0.5 });
  const p = p0.slice();
  grads.forEach((g, t) => {
    opt.momentum = momenta[t]!;
    opt.step(p, g, 0.01);
  });
  assert.equal(opt.momentum, 0.9);
  assertClose(p, reference(p0, grads, 0.01, momenta, false));
});

test('momentum outside [0, 1) is a ConfigError naming momentum', () => {
  const opt = new Sgd(1);
  assert.throws(
    () => {
      opt.momentum = 1;
    },
    (e: unknown) => e instanceof ConfigError && e.field === 'momentum',
  );
  assert.throws(() => new Sgd(1, { momentum: -0.1 }), ConfigError);
});

test('state save and load continue bit-exactly', () => {
  const rng = new Rng(3);
  const n = 1000;
  const p = rng.fillNormal(new Float32Array(n));
  const grads = randomGrads(rng, n, 10);
  const a = new Sgd(n, { momentum: 0.5, nesterov: true });
  for (const g of grads.slice(0, 5)) a.step(p, g, 0.02);
  a.momentum = 0.9;

  const saved = a.state();
  const b = new Sgd(n, { momentum: 0.1, nesterov: true });
  b.loadState(saved);
  assert.equal(b.momentum, 0.9);
  const pb = p.slice();
  for (const g of grads.slice(5)) {
    a.step(p, g, 0.02);
    b.step(pb, g, 0.02);
  }
  assert.deepEqual(Buffer.from(pb.buffer), Buffer.from(p.buffer));
  // The snapshot is a copy: stepping did not change it.
  assert.notDeepEqual(saved['velocity'], a.state()['velocity']);
});

test('loadState rejects a missing or mis-sized velocity with CHECKPOINT_INVALID', () => {
  const opt = new Sgd(4);
  const check = (state: Record<string, Float32Array | number>, word: string): void =>
    assert.throws(
      () => opt.loadState(state),
      (e: unknown) =>
        e instanceof CheckpointError && e.code === 'CHECKPOINT_INVALID' && e.message.includes(word),
    );
  check({ momentum: 0.5 }, 'velocity');
  check({ velocity: new Float32Array(3), momentum: 0.5 }, 'velocity');
  check({ velocity: new Float32Array(4) }, 'momentum');
});

test('buffers of the wrong length or a bad learning rate are rejected', () => {
  const opt = new Sgd(3);
  assert.throws(() => opt.step(new Float32Array(3), new Float32Array(2), 0.1), RangeError);
  assert.throws(() => opt.step(new Float32Array(3), new Float32Array(3), NaN), RangeError);
});
