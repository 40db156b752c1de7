import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

import type { BatchSource } from './batch-source.js';
import type { ImageSet } from './corpus.js';
import { ShardBatchSource } from './shard-batch-source.js';
import { shardFileName } from './shard-manifest.js';
import { openShards } from './shard-reader.js';
import type { ShardCorpus } from './shard-reader.js';
import { packShards } from './shard-writer.js';
import { DataError } from '../errors.js';

const COUNT = 53;
const SHARD_SIZE = 10; // 6 shards: five of 10 images, one of 3
const B = 7; // 7 steps per epoch, the last 4 images of an epoch dropped

/** `count` 2x2 grey images whose every pixel is the image's index, so a batch row names its image. */
function idSet(count: number): ImageSet {
  return {
    name: 'ids',
    shape: { height: 2, width: 2, channels: 1 },
    count,
    pixels: Uint8Array.from({ length: count * 4 }, (_, i) => i >> 2),
    labels: null,
  };
}

async function packedDir(count = COUNT): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'harmonium-stream-'));
  await packShards(idSet(count), dir, SHARD_SIZE);
  return dir;
}

/** A corpus whose readShard calls are recorded in `reads`. */
async function recorded(dir: string): Promise<{ corpus: ShardCorpus; reads: number[] }> {
  const corpus = await openShards(dir);
  const reads: number[] = [];
  const readShard = corpus.readShard.bind(corpus);
  corpus.readShard = (i) => (reads.push(i), readShard(i));
  return { corpus, reads };
}

/** The image indices of each batch (copied: the source reuses its buffer). */
async function batchIds(
  source: BatchSource,
  epoch: number,
  startStep = 0,
  share = source.shareOf(0, 1),
): Promise<number[][]> {
  const out: number[][] = [];
  for await (const { pixels, indices } of source.batches(epoch, startStep, share)) {
    const rows = Array.from({ length: share.count }, (_, r) => Math.round(pixels[r * 4]! * 255));
    assert.deepEqual([...indices], rows, 'indices are manifest-order positions');
    out.push(rows);
  }
  return out;
}

const shardOf = (id: number): number => Math.floor(id / SHARD_SIZE);

test('an epoch reads each shard once, in shard order, every image at most once; the tail dropped', async () => {
  const { corpus, reads } = await recorded(await packedDir());
  const source = new ShardBatchSource(corpus, { seed: 7, globalBatch: B });
  assert.equal(source.count, COUNT);
  assert.equal(source.stepsPerEpoch, 7);
  for (const epoch of [0, 1, 2]) {
    reads.length = 0;
    const ids = (await batchIds(source, epoch)).flat();
    assert.equal(ids.length, 49);
    assert.equal(new Set(ids).size, 49, 'no image twice');
    const order = source.shardsOf(epoch);
    assert.deepEqual([...order].sort(), [0, 1, 2, 3, 4, 5]);
    // The images come shard after shard in the epoch's shard order, each shard whole until the tail.
    const runs = ids.map(shardOf).filter((s, i, a) => i === 0 || a[i - 1] !== s);
    assert.deepEqual(runs, order.slice(0, runs.length));
    const seen = new Set(ids);
    const dropped = Array.from({ length: COUNT }, (_, i) => i).filter((i) => !seen.has(i));
    assert.equal(dropped.length, 4);
    // Shards are read once each, and not at all when only the dropped tail is in them.
    assert.deepEqual(reads, order.slice(0, runs.length));
  }
});

test('the order is a pure function of (seed, epoch): same again, different across epochs and seeds', async () => {
  const dir = await packedDir();
  const a = new ShardBatchSource(await openShards(dir), { seed: 7, globalBatch: B });
  const b = new ShardBatchSource(await openShards(dir), { seed: 7, globalBatch: B });
  const e0 = await batchIds(a, 0);
  assert.deepEqual(await batchIds(b, 0), e0);
  assert.deepEqual(await batchIds(a, 0), e0);
  assert.notDeepEqual(await batchIds(a, 1), e0);
  assert.notDeepEqual(
    await batchIds(new ShardBatchSource(await openShards(dir), { seed: 8, globalBatch: B }), 0),
    e0,
  );
});

test('resuming at step s yields the rest of the epoch, reading no shard before the one s starts in', async () => {
  const { corpus, reads } = await recorded(await packedDir());
  const source = new ShardBatchSource(corpus, { seed: 3, globalBatch: B });
  const whole = await batchIds(source, 1);
  const order = source.shardsOf(1);
  for (let s = 0; s <= whole.length; s++) {
    reads.length = 0;
    assert.deepEqual(await batchIds(source, 1, s), whole.slice(s), `resume at step ${s}`);
    if (s < whole.length) assert.equal(reads[0], shardOf(whole[s]![0]!), `first shard read at step ${s}`);
    else assert.deepEqual(reads, []);
    assert.deepEqual(reads, order.slice(order.indexOf(reads[0]!), order.indexOf(reads[0]!) + reads.length));
  }
});

test('at most the current shard and the next one are read ahead of the batches', async () => {
  const { corpus, reads } = await recorded(await packedDir());
  const source = new ShardBatchSource(corpus, { seed: 5, globalBatch: B });
  const touched = new Set<number>();
  let readAhead = false;
  for await (const { pixels } of source.batches(0, 0, source.shareOf(0, 1))) {
    for (let r = 0; r < B; r++) touched.add(shardOf(Math.round(pixels[r * 4]! * 255)));
    assert.ok(reads.length <= touched.size + 1, `${reads.length} shards read, ${touched.size} in use`);
    readAhead ||= reads.length === touched.size + 1;
  }
  assert.ok(readAhead, 'the next shard is read while the current one is consumed');
});

test('lanes read disjoint shard sets, and any world size reads the same global batches', async () => {
  const dir = await packedDir(68); // 7 shards: six of 10, one of 8; 3 lanes read 2 each
  const source = new ShardBatchSource(await openShards(dir), { seed: 11, globalBatch: 5, lanes: 3 });
  assert.equal(source.count, 18, 'counted over the two smallest shards');
  assert.equal(source.stepsPerEpoch, 9, 'lanes of 1, 2 and 2 images a step: 18 / 2');
  for (const epoch of [0, 1]) {
    const sets = [0, 1, 2].map((lane) => source.shardsOf(epoch, lane));
    const all = sets.flat();
    assert.equal(all.length, 6);
    assert.equal(new Set(all).size, 6, `epoch ${epoch}: ${JSON.stringify(sets)}`);
    const whole = await batchIds(source, epoch);
    assert.equal(whole.length, 9);
    assert.equal(new Set(whole.flat()).size, 45, 'no image twice in an epoch');
    // Position 0 comes from lane 0, [1, 3) from lane 1, [3, 5) from lane 2.
    for (const batch of whole) {
      batch.forEach((id, pos) => assert.ok(sets[pos < 1 ? 0 : pos < 3 ? 1 : 2]!.includes(shardOf(id))));
    }
    for (const worldSize of [2, 3]) {
      const ranks = await Promise.all(
        Array.from({ length: worldSize }, (_, r) => batchIds(source, epoch, 0, source.shareOf(r, worldSize))),
      );
      whole.forEach((batch, step) =>
        assert.deepEqual(
          ranks.flatMap((r) => r[step]!),
          batch,
        ),
      );
    }
    assert.deepEqual(await batchIds(source, epoch, 4), whole.slice(4), 'resumed inside the epoch');
  }
  assert.throws(() => source.shareOf(0, 4), /4 ranks cannot share 3 lanes/);
  await assert.rejects(
    async () => new ShardBatchSource(await openShards(dir), { seed: 1, globalBatch: 8, lanes: 8 }),
    /data: .*7 shards/,
  );
  await assert.rejects(
    async () => new ShardBatchSource(await openShards(dir), { seed: 1, globalBatch: 2, lanes: 3 }),
    /batch-size: a global batch of 2 cannot be shared/,
  );
});

test('limit streams only the first images of the corpus', async () => {
  const { corpus, reads } = await recorded(await packedDir());
  const source = new ShardBatchSource(corpus, { seed: 2, limit: 24, globalBatch: 8 });
  assert.equal(source.count, 24);
  const ids = (await batchIds(source, 0)).flat();
  assert.deepEqual(
    [...ids].sort((a, b) => a - b),
    Array.from({ length: 24 }, (_, i) => i),
  );
  assert.deepEqual([...reads].sort(), [0, 1, 2]);
});

test('a corrupt shard fails when its turn comes, after the batches before it', async () => {
  const dir = await packedDir();
  const corpus = await openShards(dir);
  const source = new ShardBatchSource(corpus, { seed: 4, globalBatch: 5 });
  const [first, second] = source.shardsOf(0) as [number, number];
  const path = join(dir, shardFileName(second));
  const bytes = readFileSync(path);
  bytes[600] = bytes[600]! ^ 0xff;
  writeFileSync(path, bytes);
  const got: number[] = [];
  await assert.rejects(
    (async () => {
      for await (const { pixels } of source.batches(0, 0, source.shareOf(0, 1)))
        got.push(Math.round(pixels[0]! * 255));
    })(),
    (e: unknown) => e instanceof DataError && e.code === 'DATA_CHECKSUM' && e.message.includes(path),
  );
  assert.equal(got.length, Math.floor(corpus.manifest.shards[first]!.count / 5), 'the first shard');
  for (const id of got) assert.equal(shardOf(id), first);
});
