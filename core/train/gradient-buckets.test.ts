import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createMemoryProcessGroups } from '../collective/memory-process-group.js';
import type { ProcessGroup } from '../collective/process-group.js';
import { GradientBuckets, planBuckets } from './gradient-buckets.js';

describe('planBuckets', () => {
  it('cuts at multiples of block * worldSize, with a block fixed by the model and world size alone', () => {
    for (const n of [1, 2, 3, 4, 8]) {
      const grads = 2_822_000;
      const length = grads + 3;
      const whole = planBuckets(length, grads, n, 0);
      assert.deepEqual(whole.starts, [0, length]);
      for (const mb of [0.01, 1, 4, 25, 1000]) {
        const plan = planBuckets(length, grads, n, mb);
        assert.equal(plan.interleave, whole.interleave);
        assert.equal(plan.starts[0], 0);
        assert.equal(plan.starts.at(-1), length);
        for (const at of plan.starts.slice(1, -1)) assert.equal(at % (plan.interleave * n), 0);
        // About mb MiB: the nearest whole number of units, at least one.
        const unit = plan.interleave * n;
        if (plan.starts.length > 2)
          assert.equal(plan.starts[1], unit * Math.max(1, Math.round((mb * 2 ** 18) / unit)));
      }
      assert.equal(Math.log2(whole.interleave) % 1, 0);
      assert.ok(whole.interleave >= 1024 && whole.interleave <= 1 << 18);
      assert.ok(grads / (whole.interleave * n) >= 8 || whole.interleave === 1024);
    }
    assert.deepEqual(planBuckets(0, 0, 2, 4).starts, [0, 0]);
  });
});

describe('GradientBuckets', () => {
  it('starts each bucket once it is complete, in any order, and averages like one all-reduce', async () => {
    const n = 2;
    const length = 5000;
    const plan = { interleave: 1024, starts: [0, 2048, 4096, length] };
    const started: number[][] = [[], []];
    const groups = createMemoryProcessGroups(n).map((g, r): ProcessGroup => ({
      ...g,
      rank: g.rank,
      worldSize: g.worldSize,
      generation: g.generation,
      allreduce: (data, op, opts) => {
        started[r]!.push(opts.tag);
        return g.allreduce(data, op, opts);
      },
      broadcast: (d, root, o) => g.broadcast(d, root, o),
      barrier: (o) => g.barrier(o),
      close: () => g.close(),
    }));
    const data = groups.map((_, r) => Float32Array.from({ length }, (_, i) => i * (r + 1)));
    const times = await Promise.all(
      groups.map(async (g, r) => {
        const b = new GradientBuckets(g, data[r]!, plan, {
          tagOf: (k) => 10 + k,
          timeoutMs: 5000,
          wire: 'float32',
        });
        b.ready(4500, length);
        assert.deepEqual(started[r], []);
        b.ready(4096, 4500);
        b.ready(100, 2048);
        assert.deepEqual(started[r], [12]);
        b.ready(0, 100);
        b.ready(2048, 4096);
        assert.deepEqual(started[r], [12, 10, 11]);
        assert.throws(() => b.ready(0, 1), /marked final twice in bucket 0/);
        return b.finish();
      }),
    );
    for (const d of data) d.forEach((v, i) => assert.equal(v, i * 1.5));
    for (const t of times) assert.ok(t.exposedSeconds <= t.seconds && t.seconds >= 0);
  });

  it('a bucket left incomplete by the backward pass is an error, not a hang', async () => {
    const [g] = createMemoryProcessGroups(1);
    const b = new GradientBuckets(
      g!,
      new Float32Array(10),
      { interleave: 1024, starts: [0, 10] },
      {
        tagOf: (k) => k,
        timeoutMs: 1000,
        wire: 'float32',
      },
    );
    b.ready(0, 9);
    await assert.rejects(b.finish(), /bucket 0 of the gradient all-reduce still misses 1 values/);
  });

  it('a failed bucket fails the step with the collective error once the backward pass is over', async () => {
    const groups = createMemoryProcessGroups(2);
    await groups[1]!.close();
    const b = new GradientBuckets(groups[0]!, new Float32Array(4096), planBuckets(4096, 4096, 2, 0.004), {
      tagOf: (k) => k,
      timeoutMs: 2000,
      wire: 'float32',
    });
    b.ready(0, 4096);
    await assert.rejects(b.finish(), (err: Error & { code?: string }) => /^COLLECTIVE_/.test(err.code ?? ''));
  });
});
