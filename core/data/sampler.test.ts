import assert from 'node:assert/strict';
import { test } from 'node:test';

import { assignShards, epochPermutation, rankBatchIndices, shardOrder, stepsPerEpoch } from './sampler.js';

function isPermutation(p: ArrayLike<number>, n: number): boolean {
  const seen = new Uint8Array(n);
  for (let i = 0; i < p.length; i++) {
    if (p[i]! >= n || seen[p[i]!]) return false;
    seen[p[i]!] = 1;
  }
  return p.length === n;
}

test('epochPermutation is a reproducible permutation that changes with epoch and seed', () => {
  const a = epochPermutation(1000, 42, 3);
  assert.ok(isPermutation(a, 1000));
  assert.deepEqual(a, epochPermutation(1000, 42, 3));
  assert.notDeepEqual(a, epochPermutation(1000, 42, 4));
  assert.notDeepEqual(a, epochPermutation(1000, 43, 3));
  assert.notDeepEqual(
    [...a],
    Array.from({ length: 1000 }, (_, i) => i),
    'actually shuffled',
  );
  assert.equal(epochPermutation(0, 1, 0).length, 0);
  assert.deepEqual([...epochPermutation(1, 1, 0)], [0]);
});

test('stepsPerEpoch drops the tail that does not fill a global batch', () => {
  assert.equal(stepsPerEpoch(100, 32), 3);
  assert.equal(stepsPerEpoch(96, 32), 3);
  assert.equal(stepsPerEpoch(31, 32), 0);
  assert.throws(() => stepsPerEpoch(10, 0), RangeError);
});

test('rank batches are disjoint, balanced, and their union is the single-worker batch', () => {
  for (const [count, worldSize, b] of [
    [100, 1, 10],
    [100, 3, 7],
    [1000, 4, 32],
    [17, 5, 1],
    [64, 2, 32],
    [10, 3, 4],
  ] as const) {
    const perm = epochPermutation(count, 7, 2);
    const B = worldSize * b;
    const steps = stepsPerEpoch(count, B);
    assert.equal(steps, Math.floor(count / B));
    const used = new Uint8Array(count);
    for (let t = 0; t < steps; t++) {
      const union: number[] = [];
      for (let r = 0; r < worldSize; r++) {
        const batch = rankBatchIndices(perm, t, r, worldSize, b);
        assert.equal(batch.length, b, 'every rank gets b samples');
        for (const i of batch) {
          assert.equal(used[i], 0, `sample ${i} used twice`);
          used[i] = 1;
        }
        union.push(...batch);
      }
      const single = rankBatchIndices(perm, t, 0, 1, B);
      assert.deepEqual(union, [...single], `step ${t}: union of ranks == single worker batch`);
    }
    // Covering: exactly steps * B samples were used, and the dropped ones are the permutation tail.
    assert.equal(
      used.reduce((s, u) => s + u, 0),
      steps * B,
    );
    for (let k = steps * B; k < count; k++) assert.equal(used[perm[k]!], 0);
    if (steps < Number.MAX_SAFE_INTEGER)
      assert.throws(() => rankBatchIndices(perm, steps, 0, worldSize, b), RangeError);
  }
});

test('rankBatchIndices rejects a rank outside the world', () => {
  const perm = epochPermutation(10, 1, 0);
  assert.throws(() => rankBatchIndices(perm, 0, 2, 2, 2), RangeError);
});

test('shards: reproducible order per epoch, equal whole-shard shares, disjoint', () => {
  assert.deepEqual(shardOrder(20, 5, 1), shardOrder(20, 5, 1));
  assert.notDeepEqual(shardOrder(20, 5, 1), shardOrder(20, 5, 2));
  assert.notDeepEqual([...shardOrder(1000, 9, 0)], [...epochPermutation(1000, 9, 0)], 'own random stream');
  for (const [numShards, worldSize] of [
    [20, 1],
    [20, 3],
    [7, 7],
    [10, 4],
    [3, 5],
  ] as const) {
    const order = shardOrder(numShards, 11, 0);
    assert.ok(isPermutation(order, numShards));
    const k = Math.floor(numShards / worldSize);
    const all: number[] = [];
    for (let r = 0; r < worldSize; r++) {
      const mine = assignShards(order, r, worldSize);
      assert.equal(mine.length, k);
      all.push(...mine);
    }
    assert.equal(new Set(all).size, all.length, 'disjoint');
    assert.deepEqual(all, [...order.subarray(0, k * worldSize)], 'the dropped shards are the order tail');
  }
});
