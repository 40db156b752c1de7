import assert from 'node:assert/strict';
import { after, test } from 'node:test';

import { CollectiveEndpoint, type JoinOptions } from './collective-endpoint.js';
import type { ProcessGroup, ReduceOp } from './process-group.js';
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
const opened: CollectiveEndpoint[] = [];

after(() => Promise.all(opened.map((e) => e.close())));

async function endpoints(n: number): Promise<CollectiveEndpoint[]> {
  const list = await Promise.all(
    Array.from({ length: n }, () => CollectiveEndpoint.listen({ host: '127.0.0.1', port: 0 })),
  );
  opened.push(...list);
  return list;
}

function joinAll(
  eps: readonly CollectiveEndpoint[],
  generation: number,
  extra: Partial<JoinOptions> = {},
): Promise<ProcessGroup[]> {
  const peers = eps.map((e) => e.address);
  return Promise.all(
    eps.map((e, rank) => e.join({ jobId: 'job', generation, rank, peers, timeoutMs: 5_000, ...extra })),
  );
}

const closeAll = (groups: readonly ProcessGroup[]): Promise<unknown> =>
  Promise.all(groups.map((g) => g.close()));

for (const worldSize of [1, 2, 3, 4, 5]) {
  test(`gRPC ring over loopback, world size ${worldSize}: allreduce, broadcast and barrier`, async () => {
    const eps = await endpoints(worldSize);
    const groups = await joinAll(eps, 1);
    let tag = 0;
    for (const length of LENGTHS) await checkAllreduce(groups, length, 'sum', tag++);
    for (const op of OPS) await checkAllreduce(groups, 1001, op, tag++);
    for (const wire of ['bf16', 'fp16'] as const) {
      await checkAllreduce(groups, 700_000, 'avg', tag++, wire);
      await checkAllreduce(groups, 1001, 'max', tag++, wire);
    }
    // Interleaved: blocks of one float, blocks larger than a segment, one block, no floats.
    await checkAllreduce(groups, 1001, 'sum', tag++, 'float32', 1);
    await checkAllreduce(groups, 700_000, 'avg', tag++, 'bf16', 300_000);
    await checkAllreduce(groups, 1001, 'max', tag++, 'fp16', 5000);
    await checkAllreduce(groups, 0, 'sum', tag++, 'float32', 256);
    for (let root = 0; root < worldSize; root++) await checkBroadcast(groups, 2501, root, tag++);
    await checkBroadcast(groups, 700_000, 0, tag++);
    await checkBroadcast(groups, 0, worldSize - 1, tag++);
    await checkBarrier(groups, tag++);
    await closeAll(groups);
    await Promise.all(eps.map((e) => e.close()));
  });
}

test('gRPC ring: small segments, and calls with different tags in flight together', async () => {
  const eps = await endpoints(3);
  const groups = await joinAll(eps, 1, { segmentBytes: 400 });
  await checkAllreduce(groups, 1001, 'avg', 1);
  await checkBroadcast(groups, 1001, 1, 2);
  await checkConcurrentTags(groups, 2000, [3, 4]);
  await closeAll(groups);
});

test('gRPC ring: interleaved sub-ranges in flight together reduce as the whole buffer', async () => {
  const eps = await endpoints(3);
  // 256-float segments cut each 1000-float block in four.
  const groups = await joinAll(eps, 1, { segmentBytes: 1024 });
  const unit = 1000 * 3;
  const cuts = [2 * unit, 5 * unit] as const;
  for (const [wire, tag] of [
    ['float32', 10],
    ['bf16', 20],
  ] as const) {
    assert.equal(await firstBucketDifference(groups, 8 * unit + 333, cuts, 1000, wire, tag), -1, wire);
  }
  await closeAll(groups);
});

test('gRPC ring: a peer with another interleave fails with COLLECTIVE_MISMATCH, even for the same segments', async () => {
  const eps = await endpoints(2);
  const groups = await joinAll(eps, 1);
  // 8 floats on 2 ranks: contiguous chunks and blocks of 4 cut the buffer alike, so only the
  // interleave field of the segments tells the calls apart.
  const results = await Promise.allSettled(
    groups.map((g, r) =>
      g.allreduce(new Float32Array(8), 'sum', { tag: 1, timeoutMs: 5_000, interleave: r === 0 ? 4 : 0 }),
    ),
  );
  const reasons = results.map((res) => {
    assert.equal(res.status, 'rejected');
    return (res as PromiseRejectedResult).reason as unknown;
  });
  isCollectiveError(
    'COLLECTIVE_MISMATCH',
    1,
    /sent allreduce\(sum, 8 floats\) step 0 segment 0 \(4 floats\) where this rank expected allreduce\(sum, 8 floats, interleaved by 4\)/,
  )(reasons[0]);
  isCollectiveError(
    'COLLECTIVE_MISMATCH',
    0,
    /sent allreduce\(sum, 8 floats, interleaved by 4\)/,
  )(reasons[1]);
  await closeAll(groups);
});

test('gRPC ring: a peer that links before this rank joins is held until the join', async () => {
  const eps = await endpoints(3);
  const peers = eps.map((e) => e.address);
  const join = (rank: number): Promise<ProcessGroup> =>
    eps[rank]!.join({ jobId: 'late', generation: 4, rank, peers, timeoutMs: 5_000 });
  const early = [join(1), join(2)];
  await new Promise((resolve) => setTimeout(resolve, 300));
  const groups = await Promise.all([join(0), ...early]);
  await checkAllreduce(groups, 1001, 'sum', 1);
  await closeAll(groups);
});

test('gRPC ring: join fails with COLLECTIVE_TIMEOUT naming the rank that never joins', async () => {
  const eps = await endpoints(3);
  const peers = eps.map((e) => e.address);
  const timeoutMs = 400;
  const started = performance.now();
  // Rank 2's endpoint is up but its process never joins.
  await Promise.all(
    [0, 1].map(async (rank) => {
      await assert.rejects(
        eps[rank]!.join({ jobId: 'j', generation: 1, rank, peers, timeoutMs }),
        isCollectiveError('COLLECTIVE_TIMEOUT', 2, new RegExp(`rank 2 \\(${peers[2]}\\)`)),
      );
      assert.ok(performance.now() - started < timeoutMs + 500);
    }),
  );
});

test('gRPC ring: join fails with COLLECTIVE_TIMEOUT when nothing listens at a peer address', async () => {
  const [ep] = await endpoints(1);
  const gone = (await endpoints(1))[0]!;
  const deadAddress = gone.address;
  await gone.close();
  const started = performance.now();
  await assert.rejects(
    ep!.join({ jobId: 'j', generation: 1, rank: 0, peers: [ep!.address, deadAddress], timeoutMs: 500 }),
    isCollectiveError('COLLECTIVE_TIMEOUT', 1, new RegExp(deadAddress)),
  );
  assert.ok(performance.now() - started < 1_000);
});

test('gRPC ring: a peer from another generation or with another world size is refused', async () => {
  const eps = await endpoints(2);
  const peers = eps.map((e) => e.address);
  const groups = await joinAll(eps, 5);
  // Rank 0's endpoint has moved on to generation 5: a generation-4 peer is told so at once.
  const stale = await endpoints(1);
  await assert.rejects(
    stale[0]!.join({
      jobId: 'job',
      generation: 4,
      rank: 1,
      peers: [peers[0]!, stale[0]!.address],
      timeoutMs: 2_000,
    }),
    isCollectiveError('COLLECTIVE_MISMATCH', 0, /generation 5/),
  );
  await closeAll(groups);
  const wrongSize = await endpoints(1);
  // Both ends see the other's claim and refuse it.
  const wrongPeers = [peers[0]!, wrongSize[0]!.address];
  await Promise.all([
    assert.rejects(
      eps[0]!.join({ jobId: 'size', generation: 1, rank: 0, peers: wrongPeers, timeoutMs: 1_000 }),
      isCollectiveError('COLLECTIVE_MISMATCH', 1, /claiming rank 0 of 2 linked to rank 1; rank 1 of 3/),
    ),
    assert.rejects(
      wrongSize[0]!.join({
        jobId: 'size',
        generation: 1,
        rank: 1,
        peers: [...wrongPeers, 'x:1'],
        timeoutMs: 1_000,
      }),
      isCollectiveError('COLLECTIVE_MISMATCH', 0, /claiming rank 1 of 3 linked to rank 0; rank 0 of 2/),
    ),
  ]);
});

test('gRPC ring: bad join options fail at once', async () => {
  const [ep] = await endpoints(1);
  const base = { jobId: 'j', generation: 1, rank: 0, peers: [ep!.address], timeoutMs: 100 };
  for (const bad of [
    { rank: 1 },
    { generation: -1 },
    { jobId: '' },
    { timeoutMs: 0 },
    { segmentBytes: 6 },
    { peers: [] },
  ]) {
    await assert.rejects(ep!.join({ ...base, ...bad }), isCollectiveError('COLLECTIVE_MISMATCH', null));
  }
});

test('gRPC ring: a rank that never calls makes every other rank time out at its deadline', async () => {
  const eps = await endpoints(4);
  const groups = await joinAll(eps, 1);
  await checkStalledPeer(groups, 1, 600);
  await closeAll(groups);
  // The endpoints outlive the failed group: the next generation works.
  const next = await joinAll(eps, 2);
  await checkAllreduce(next, 1001, 'sum', 1);
  await closeAll(next);
});

test('gRPC ring: a rank that closes its group fails every other rank at once', async () => {
  const eps = await endpoints(5);
  const groups = await joinAll(eps, 1);
  await checkLeavingPeer(groups, 2, () => groups[2]!.close());
  await closeAll(groups);
});

test('gRPC ring: closing a rank endpoint fails the calls of every other rank at once', async () => {
  const eps = await endpoints(4);
  const groups = await joinAll(eps, 1);
  await checkLeavingPeer(groups, 3, () => eps[3]!.close());
  await closeAll(groups);
});

test('gRPC ring: ranks that close right after their last call do not fail the others', async () => {
  // A broadcast root is done once its data is queued, long before the others have it; an
  // allreduce ends at about the same time everywhere.
  const eps = await endpoints(3);
  for (let generation = 1; generation <= 4; generation++) {
    const groups = await joinAll(eps, generation, { segmentBytes: 4096 });
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

test('gRPC ring: close fails pending calls with COLLECTIVE_CLOSED and is idempotent', async () => {
  const eps = await endpoints(2);
  const groups = await joinAll(eps, 1);
  const pending = assert.rejects(
    groups[0]!.barrier({ tag: 1, timeoutMs: 5000 }),
    isCollectiveError('COLLECTIVE_CLOSED', null),
  );
  await Promise.all([groups[0]!.close(), groups[0]!.close()]);
  await pending;
  await assert.rejects(
    groups[1]!.barrier({ tag: 2, timeoutMs: 5000 }),
    isCollectiveError('COLLECTIVE_LINK', 0),
  );
  await groups[1]!.close();
  await Promise.all([eps[0]!.close(), eps[0]!.close()]);
  await assert.rejects(
    eps[0]!.join({ jobId: 'j', generation: 2, rank: 0, peers: [eps[0]!.address], timeoutMs: 100 }),
    isCollectiveError('COLLECTIVE_CLOSED', null),
  );
});
