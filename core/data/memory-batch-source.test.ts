import assert from 'node:assert/strict';
import { test } from 'node:test';

import type { ImageSet } from './corpus.js';
import { MemoryBatchSource } from './memory-batch-source.js';
import { epochPermutation } from './sampler.js';

const COUNT = 53;
const B = 7;

/** 2x2 grey images whose every pixel is the image's index, so a batch row names its image. */
const ids: ImageSet = {
  name: 'ids',
  shape: { height: 2, width: 2, channels: 1 },
  count: COUNT,
  pixels: Uint8Array.from({ length: COUNT * 4 }, (_, i) => i >> 2),
  labels: null,
};

async function batchIds(source: MemoryBatchSource, epoch: number, startStep = 0): Promise<number[][]> {
  const out: number[][] = [];
  for await (const batch of source.batches(epoch, B, startStep)) {
    out.push(Array.from({ length: B }, (_, r) => Math.round(batch[r * 4]! * 255)));
  }
  return out;
}

test('MemoryBatchSource cuts the epoch permutation into batches', async () => {
  const source = new MemoryBatchSource(ids, 7);
  assert.equal(source.stepsPerEpoch(B), 7);
  const whole = await batchIds(source, 2);
  assert.deepEqual(whole.flat(), [...epochPermutation(COUNT, 7, 2).subarray(0, 49)]);
  assert.deepEqual(await batchIds(source, 2, 5), whole.slice(5));
  assert.notDeepEqual(await batchIds(source, 3), whole);
});

test('MemoryBatchSource ranks together read exactly the single-worker batches', async () => {
  const single = await batchIds(new MemoryBatchSource(ids, 7, { rank: 0, worldSize: 1 }), 1);
  for (const worldSize of [2, 3]) {
    const b = B;
    const whole = await (async () => {
      const out: number[][] = [];
      for await (const batch of new MemoryBatchSource(ids, 7).batches(1, worldSize * b, 0)) {
        out.push(Array.from({ length: worldSize * b }, (_, r) => Math.round(batch[r * 4]! * 255)));
      }
      return out;
    })();
    const ranks = await Promise.all(
      Array.from({ length: worldSize }, (_, rank) =>
        batchIds(new MemoryBatchSource(ids, 7, { rank, worldSize }), 1),
      ),
    );
    assert.equal(ranks[0]!.length, Math.floor(COUNT / (worldSize * b)));
    for (let step = 0; step < whole.length; step++) {
      assert.deepEqual(
        ranks.flatMap((r) => r[step]!),
        whole[step],
      );
    }
  }
  assert.equal(single.length, 7);
});
