import assert from 'node:assert/strict';
import { test } from 'node:test';

import { createMemoryProcessGroups } from './memory-process-group.js';
import type { ReduceOp } from './process-group.js';
import {
  LENGTHS,
  checkAllreduce,
  checkBarrier,
  checkBroadcast,
  checkConcurrentTags,
  checkLeavingPeer,
  checkStalledPeer,
  firstBucketDifference,
  isCollectiveError,
} from './testing.js';

const OPS: readonly ReduceOp[] = ['sum', 'avg', 'max', 'min'];

for (const worldSize of [1, 2, 3, 4, 5]) {
  test(`in-memory ring, world size ${worldSize}: allreduce, broadcast and barrier`, async () => {
    // 1000-float segments put several segments in every chunk of the longer buffers.
    const groups = createMemoryProcessGroups(worldSize, { segmentElements: 1000 });
    let tag = 0;
    for (const length of LENGTHS) await checkAllreduce(groups, length, 'sum', tag++);
    for (const op of OPS) await checkAllreduce(groups, 1001, op, tag++);
    for (const wire of ['bf16', 'fp16'] as const) {
      await checkAllreduce(groups, 700_000, 'avg', tag++, wire);
      await checkAllreduce(groups, 1001, 'max', tag++, wire);
    }
    // Interleaved: blocks of one float, blocks larger than a segment, one block, no floats.
    await checkAllreduce(groups, 1001, 'sum', tag++, 'float32', 1);
    await checkAllreduce(groups, 700_000, 'avg', tag++, 'bf16', 2500);
    await checkAllreduce(groups, 1001, 'max', tag++, 'fp16', 5000);
    await checkAllreduce(groups, 0, 'sum', tag++, 'float32', 256);
    for (let root = 0; root < worldSize; root++) await checkBroadcast(groups, 2501, root, tag++);
    await checkBroadcast(groups, 0, worldSize - 1, tag++);
    await checkBarrier(groups, tag++);
    await Promise.all(groups.map((g) => g.close()));
  });
}

test('in-memory ring: calls with different tags may be in flight together', async () => {
  const groups = createMemoryProcessGroups(3, { segmentElements: 7 });
  await checkConcurrentTags(groups, 100, [1, 2]);
});

for (const worldSize of [2, 3, 4]) {
  test(`in-memory ring, world size ${worldSize}: interleaved sub-ranges reduce as the whole buffer`, async () => {
    // 50-float segments cut each 64-float block in two.
    const groups = createMemoryProcessGroups(worldSize, { segmentElements: 50 });
    const G = 64;
    const unit = G * worldSize;
    // The sub-ranges start at multiples of G * worldSize; the last one, and the buffer, end mid-block.
    const length = 10 * unit + 37;
    const cuts = [3 * unit, 7 * unit] as const;
    let tag = 0;
    for (const wire of ['float32', 'bf16'] as const) {
      assert.equal(await firstBucketDifference(groups, length, cuts, G, wire, (tag += 4)), -1, wire);
    }
    if (worldSize === 3) {
      // Contiguous chunks move with the call's length: some element is then added in another order.
      assert.notEqual(await firstBucketDifference(groups, length, cuts, 0, 'float32', (tag += 4)), -1);
    }
    await Promise.all(groups.map((g) => g.close()));
  });
}

test('in-memory ring: a rank with another interleave fails with COLLECTIVE_MISMATCH', async () => {
  const groups = createMemoryProcessGroups(3, { segmentElements: 100 });
  const timeoutMs = 1_000;
  const started = performance.now();
  const results = await Promise.allSettled(
    groups.map((g, r) =>
      g.allreduce(new Float32Array(1000), 'avg', { tag: 5, timeoutMs, interleave: r === 1 ? 16 : 32 }),
    ),
  );
  // Rank 1 and its successor see the other layout at once; rank 0, whose predecessor agrees with
  // it, then waits for rank 2, which gave up: it fails at its deadline.
  const reasons = results.map((res) => {
    assert.equal(res.status, 'rejected');
    return (res as PromiseRejectedResult).reason as unknown;
  });
  isCollectiveError(
    'COLLECTIVE_MISMATCH',
    0,
    /sent allreduce\(avg, 1000 floats, interleaved by 32\) .* expected allreduce\(avg, 1000 floats, interleaved by 16\)/,
  )(reasons[1]);
  isCollectiveError(
    'COLLECTIVE_MISMATCH',
    1,
    /sent allreduce\(avg, 1000 floats, interleaved by 16\)/,
  )(reasons[2]);
  isCollectiveError('COLLECTIVE_TIMEOUT', 2)(reasons[0]);
  assert.ok(performance.now() - started < timeoutMs + 500);
  await Promise.all(groups.map((g) => g.close()));
});

test('in-memory ring: mismatched calls fail with COLLECTIVE_MISMATCH naming the sender', async () => {
  const groups = createMemoryProcessGroups(2);
  const [g0, g1] = groups as [(typeof groups)[0], (typeof groups)[0]];
  const results = await Promise.allSettled([
    g0.allreduce(new Float32Array(10), 'sum', { tag: 3, timeoutMs: 2000 }),
    g1.allreduce(new Float32Array(12), 'sum', { tag: 3, timeoutMs: 2000 }),
  ]);
  results.forEach((res, r) => {
    assert.equal(res.status, 'rejected');
    isCollectiveError(
      'COLLECTIVE_MISMATCH',
      1 - r,
      /sent allreduce\(sum, 1\d floats\)/,
    )((res as PromiseRejectedResult).reason);
  });
  await Promise.all(groups.map((g) => g.close()));
});

test('in-memory ring: bad arguments fail locally and leave the group usable', async () => {
  const groups = createMemoryProcessGroups(2);
  const g = groups[0]!;
  const local = (e: unknown): boolean => {
    isCollectiveError('COLLECTIVE_MISMATCH', null)(e);
    assert.equal((e as { rebuild: boolean }).rebuild, false);
    return true;
  };
  await assert.rejects(g.broadcast(new Float32Array(1), 2, { tag: 1, timeoutMs: 100 }), local);
  await assert.rejects(
    g.allreduce(new Float32Array(1), 'prod' as ReduceOp, { tag: 1, timeoutMs: 100 }),
    local,
  );
  for (const interleave of [-1, 1.5, Number.NaN, 2 ** 53]) {
    await assert.rejects(
      g.allreduce(new Float32Array(1), 'sum', { tag: 1, timeoutMs: 100, interleave }),
      (e) => local(e) && new RegExp(`interleave ${interleave} is not`).test((e as Error).message),
    );
  }
  await assert.rejects(g.barrier({ tag: -1, timeoutMs: 100 }), local);
  await assert.rejects(g.barrier({ tag: 1, timeoutMs: 0 }), local);
  await checkAllreduce(groups, 5, 'sum', 2);
  await Promise.all(groups.map((g) => g.close()));
});

test('in-memory ring: a rank that never calls makes every other rank time out at its deadline', async () => {
  const groups = createMemoryProcessGroups(4);
  await checkStalledPeer(groups, 2, 300);
  await Promise.all(groups.map((g) => g.close()));
});

test('in-memory ring: a rank that closes its group fails the others at once', async () => {
  const groups = createMemoryProcessGroups(4);
  await checkLeavingPeer(groups, 1, () => groups[1]!.close());
  await Promise.all(groups.map((g) => g.close()));
});

test('in-memory ring: ranks that close right after their last call do not fail the others', async () => {
  // A broadcast root is done once its data is queued, long before the others have it; an
  // allreduce ends at about the same time everywhere.
  for (let generation = 1; generation <= 4; generation++) {
    const groups = createMemoryProcessGroups(3, { segmentElements: 1000 });
    await Promise.all(
      groups.map(async (g, r) => {
        const a = new Float32Array(20_000).fill(r);
        await g.allreduce(a, 'sum', { tag: 1, timeoutMs: 5_000 });
        const b = new Float32Array(200_000).fill(r + 1);
        await g.broadcast(b, generation % 3, { tag: 2, timeoutMs: 5_000 });
        await g.close();
        assert.equal(a[19_999], 3);
        assert.equal(b[199_999], (generation % 3) + 1);
      }),
    );
  }
});

test('in-memory ring: close fails pending calls with COLLECTIVE_CLOSED and is idempotent', async () => {
  const groups = createMemoryProcessGroups(2);
  const pending = assert.rejects(
    groups[0]!.barrier({ tag: 1, timeoutMs: 5000 }),
    isCollectiveError('COLLECTIVE_CLOSED', null),
  );
  await Promise.all([groups[0]!.close(), groups[0]!.close()]);
  await pending;
  await assert.rejects(
    groups[0]!.barrier({ tag: 2, timeoutMs: 5000 }),
    isCollectiveError('COLLECTIVE_CLOSED', null),
  );
  await groups[1]!.close();
});
