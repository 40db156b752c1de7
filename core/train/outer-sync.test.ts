/**
 * DiLoCo's outer step against its formula: Nesterov momentum on the averaged parameter change
 * (PyTorch SGD, nesterov=True); with η = 1 and μ = 0 the synced parameters are the ranks' mean.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { OUTER_VELOCITY, OuterSync } from './outer-sync.js';

test('η = 1, μ = 0: the synced parameters are the mean of the ranks', () => {
  const outer = new OuterSync(Float32Array.of(1, 2), { every: 4, lr: 1, momentum: 0 });
  const ranks = [Float32Array.of(0.5, 2.5), Float32Array.of(0.7, 1.5)];
  const deltas = ranks.map((p) => {
    const d = new Float32Array(2);
    outer.outerGradient(p, d);
    return d;
  });
  const mean = Float32Array.from([0, 1], (i) => (deltas[0]![i]! + deltas[1]![i]!) / 2);
  const params = ranks[0]!.slice();
  outer.step(params, mean);
  assert.deepEqual([...params], [...Float32Array.of(0.6, 2)]);
  assert.deepEqual([...outer.anchor], [...params]);
});

test('two rounds of Nesterov momentum, as torch.optim.SGD(nesterov=True) computes them', () => {
  const lr = 0.7;
  const mu = 0.9;
  const outer = new OuterSync(Float32Array.of(1), { every: 10, lr, momentum: mu });
  const params = new Float32Array(1);
  // Round 1: Δ = 0.2; v = 0.2; θ = 1 - 0.7 (0.2 + 0.9 * 0.2).
  outer.step(params, Float32Array.of(0.2));
  const t1 = 1 - lr * (0.2 + mu * 0.2);
  assert.ok(Math.abs(params[0]! - t1) < 1e-6);
  // Round 2: Δ = -0.1; v = 0.9 * 0.2 - 0.1; θ = t1 - 0.7 (-0.1 + 0.9 v).
  outer.step(params, Float32Array.of(-0.1));
  const v2 = mu * 0.2 - 0.1;
  assert.ok(Math.abs(params[0]! - (t1 - lr * (-0.1 + mu * v2))) < 1e-6);
  // The momentum travels in the optimizer state, and a state without it starts from rest.
  const state = outer.state();
  assert.ok(Math.abs((state[OUTER_VELOCITY] as Float32Array)[0]! - v2) < 1e-6);
  const other = new OuterSync(Float32Array.of(5), { every: 10, lr, momentum: mu });
  other.loadState(state);
  assert.deepEqual(other.state(), state);
  other.loadState({});
  assert.deepEqual([...(other.state()[OUTER_VELOCITY] as Float32Array)], [0]);
  assert.throws(
    () => other.loadState({ [OUTER_VELOCITY]: new Float32Array(3) }),
    /has 3 values, the model has 1/,
  );
});
