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
