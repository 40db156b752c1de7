import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  assignShards,
  batchShare,
  epochPermutation,
  globalBatchIndices,
  laneRange,
  shardOrder,
  stepsPerEpoch,
} from './sampler.js';

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

test('shares are contiguous, cover the global batch, differ by at most one, and need W <= B', () => {
  for (const [B, W] of [
    [10, 1],
    [10, 3],
    [100, 7],
    [5, 5],
    [64, 2],
  ] as const) {
    const shares = Array.from({ length: W }, (_, r) => batchShare(B, r, W));
    let next = 0;
    for (const s of shares) {
      assert.equal(s.offset, next, 'contiguous, in rank order');
      assert.ok(s.count >= 1);
      next += s.count;
    }
    assert.equal(next, B, 'the shares cover the global batch');
    const counts = shares.map((s) => s.count);
    assert.ok(Math.max(...counts) - Math.min(...counts) <= 1);
  }
  assert.deepEqual(batchShare(10, 1, 3), { offset: 3, count: 3 });
  assert.throws(() => batchShare(3, 0, 4), /cannot be shared by 4/);
  assert.throws(() => batchShare(10, 3, 3), RangeError);
});

test('the global batch of a step is the same permutation slice whatever the world size', () => {
  const perm = epochPermutation(100, 7, 2);
  const B = 30;
  assert.equal(stepsPerEpoch(100, B), 3);
  const used = new Uint8Array(100);
  for (let t = 0; t < 3; t++) {
    const global = globalBatchIndices(perm, t, B);
    assert.deepEqual([...global], [...perm.subarray(t * B, (t + 1) * B)]);
    for (const i of global) {
      assert.equal(used[i], 0, `sample ${i} used twice`);
      used[i] = 1;
    }
    for (const W of [1, 4, 7]) {
      const union = Array.from({ length: W }, (_, r) => {
        const s = batchShare(B, r, W);
        return [...global.subarray(s.offset, s.offset + s.count)];
      }).flat();
      assert.deepEqual(union, [...global]);
    }
  }
  for (let k = 90; k < 100; k++) assert.equal(used[perm[k]!], 0, 'the dropped samples are the tail');
  assert.throws(() => globalBatchIndices(perm, 3, B), RangeError);
});

test('lanes: every rank holds contiguous lanes, all lanes are held once, W <= L', () => {
  for (const [W, L] of [
    [1, 4],
    [3, 4],
    [4, 4],
    [2, 7],
  ] as const) {
    let next = 0;
    for (let r = 0; r < W; r++) {
      const { first, end } = laneRange(r, W, L);
      assert.equal(first, next);
      assert.ok(end > first);
      next = end;
    }
    assert.equal(next, L);
  }
  assert.throws(() => laneRange(0, 5, 4), /5 ranks cannot share 4 lanes/);
});

test('shards: reproducible order per epoch, equal whole-shard lanes, disjoint', () => {
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
