import assert from 'node:assert/strict';
import { test } from 'node:test';

import type { ImageSet } from './corpus.js';
import { MemoryBatchSource } from './memory-batch-source.js';
import { epochPermutation, type BatchShare } from './sampler.js';

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

/** Per step: the image each row shows, and the index the source says it is. */
async function batchIds(
  source: MemoryBatchSource,
  epoch: number,
  startStep = 0,
  share: BatchShare = source.shareOf(0, 1),
): Promise<number[][]> {
  const out: number[][] = [];
  for await (const { pixels, indices } of source.batches(epoch, startStep, share)) {
    const rows = Array.from({ length: share.count }, (_, r) => Math.round(pixels[r * 4]! * 255));
    assert.deepEqual([...indices], rows, 'indices name the rows');
    out.push(rows);
  }
  return out;
}

test('MemoryBatchSource cuts the epoch permutation into batches', async () => {
  const source = new MemoryBatchSource(ids, 7, B);
  assert.equal(source.stepsPerEpoch, 7);
  assert.equal(source.maxWorldSize, B);
  const whole = await batchIds(source, 2);
  assert.deepEqual(whole.flat(), [...epochPermutation(COUNT, 7, 2).subarray(0, 49)]);
  assert.deepEqual(await batchIds(source, 2, 5), whole.slice(5));
  assert.notDeepEqual(await batchIds(source, 3), whole);
});

test('MemoryBatchSource shares of any world size together read exactly the single-worker batches', async () => {
  const source = new MemoryBatchSource(ids, 7, B);
  const single = await batchIds(source, 1);
  for (const worldSize of [2, 3, 7]) {
    const ranks = await Promise.all(
      Array.from({ length: worldSize }, (_, rank) => batchIds(source, 1, 0, source.shareOf(rank, worldSize))),
    );
    for (let step = 0; step < single.length; step++) {
      assert.deepEqual(
        ranks.flatMap((r) => r[step]!),
        single[step],
      );
    }
  }
  assert.equal(single.length, 7);
  assert.throws(() => source.shareOf(0, 8), /cannot be shared by 8/);
});
