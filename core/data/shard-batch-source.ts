/**
 * Batches streamed from a sharded corpus, one shard in memory at a time per lane (plus the next one,
 * read, verified and decoded in the background while the current one is consumed: on a decode
 * thread when the reader is a ThreadShardReader, as in training).
 *
 * The order of an epoch, a pure function of (seed, epoch, lanes) and never of the world size: lane
 * j of L reads the shards assignShards(shardOrder(numShards, seed, epoch), j, L) (sampler.ts); the
 * images of each shard are shuffled by Rng(deriveSeed(seed, epoch, shard index, stream)), so a shard
 * is read the same way whichever lane gets it; these images, shard after shard, are cut into
 * consecutive runs of lane j's share of the global batch (batchShare(B, j, L)), a run possibly
 * spanning a shard boundary, and the tail that does not fill one is dropped. A rank reads only the
 * lanes it holds (laneRange), so the corpus is read once per epoch however many workers share it.
 * Resuming at a step finds the shard and offset each lane starts from with the manifest's counts
 * alone, so the shards before it are neither read nor decoded.
 */
import type { Batch, BatchSource } from './batch-source.js';
import { gatherBatch, pixelsPerImage } from './corpus.js';
import type { ImageShape } from './corpus.js';
import { Rng, deriveSeed } from './rng.js';
import { assignShards, batchShare, laneRange, shardOrder, type BatchShare } from './sampler.js';
import type { LoadedShard, ShardCorpus, ShardReader } from './shard-reader.js';
import { ConfigError } from '../errors.js';

/** Stream id of the within-shard shuffle, so it shares no numbers with the other seeds. */
const SHARD_SAMPLE_STREAM = 0x5353;

/** Options for {@link ShardBatchSource}. */
export interface ShardBatchSourceOptions {
  /** The run seed. */
  readonly seed: number;
  /** Images per step over all ranks together. */
  readonly globalBatch: number;
  /** Lanes the shards are dealt to each epoch: the job's most workers; default 1. */
  readonly lanes?: number;
  /** Train on the first `limit` images of the corpus in manifest order; 0 (default) means all. */
  readonly limit?: number;
  /** What reads the shards (e.g. a decode thread); default the corpus itself. */
  readonly reader?: ShardReader;
}

/** Marks a read started ahead of use as handled, so that its failure surfaces only when awaited. */
function prefetch(read: Promise<LoadedShard>): Promise<LoadedShard> {
  read.catch(() => undefined);
  return read;
}

/** A {@link BatchSource} streaming a {@link ShardCorpus} (see the file comment for the order). */
export class ShardBatchSource implements BatchSource {
  readonly count: number;
  readonly globalBatch: number;
  readonly stepsPerEpoch: number;
  readonly lanes: number;
  private readonly corpus: ShardCorpus;
  private readonly reader: ShardReader;
  private readonly seed: number;
  /** Images used of each shard, in manifest order: all of them, except past the limit. */
  private readonly used: readonly number[];
  /** Manifest-order index of each shard's first image. */
  private readonly firstIndex: readonly number[];

  /**
   * Streams `corpus` in `opts.lanes` lanes. Throws ConfigError on "data" when there are fewer shards
   * than lanes, and on "batch-size" when the global batch has fewer images than lanes.
   */
  constructor(corpus: ShardCorpus, opts: ShardBatchSourceOptions) {
    this.corpus = corpus;
    this.reader = opts.reader ?? corpus;
    this.seed = opts.seed;
    this.globalBatch = opts.globalBatch;
    this.lanes = opts.lanes ?? 1;
    let left = opts.limit !== undefined && opts.limit > 0 ? opts.limit : corpus.count;
    const used: number[] = [];
    const firstIndex: number[] = [];
    let first = 0;
    for (const info of corpus.manifest.shards) {
      firstIndex.push(first);
      first += info.count;
      if (left === 0) continue;
      used.push(Math.min(info.count, left));
      left -= used[used.length - 1]!;
    }
    this.used = used;
    this.firstIndex = firstIndex;
    const perLane = Math.floor(used.length / this.lanes);
    if (used.length > 0 && perLane === 0) {
      throw new ConfigError(
        'data',
        `${corpus.location} has ${used.length} shards in use, fewer than the job's ${this.lanes} workers`,
      );
    }
    if (this.globalBatch < this.lanes) {
      throw new ConfigError(
        'batch-size',
        `a global batch of ${this.globalBatch} cannot be shared by the job's ${this.lanes} workers`,
      );
    }
    // Which shards a lane gets changes every epoch: count over the smallest ones it could get, so
    // that every lane runs the same number of steps every epoch (all of them when there is one lane).
    const smallest = [...used].sort((a, b) => a - b).slice(0, perLane);
    this.count = smallest.reduce((a, b) => a + b, 0);
    this.stepsPerEpoch = Math.floor(this.count / Math.ceil(this.globalBatch / this.lanes));
  }

  get shape(): ImageShape {
    return this.corpus.shape;
  }

  get maxWorldSize(): number {
    return this.lanes;
  }

  get describe(): string {
    return `${this.used.length} shards streamed in ${this.lanes} lane(s), ${this.count} images a lane an epoch`;
  }

  /** The union of the positions of the lanes rank `rank` of `worldSize` holds. */
  shareOf(rank: number, worldSize: number): BatchShare {
    const { first, end } = laneRange(rank, worldSize, this.lanes);
    const a = batchShare(this.globalBatch, first, this.lanes);
    const b = batchShare(this.globalBatch, end - 1, this.lanes);
    return { offset: a.offset, count: b.offset + b.count - a.offset };
  }

  /** The shards lane `lane` reads in `epoch`, in reading order (indices into manifest.shards). */
  shardsOf(epoch: number, lane = 0): number[] {
    return assignShards(shardOrder(this.used.length, this.seed, epoch), lane, this.lanes);
  }

  async *batches(epoch: number, startStep: number, share: BatchShare): AsyncGenerator<Batch> {
    const d = pixelsPerImage(this.shape);
    const pixels = new Float32Array(share.count * d);
    const indices = new Uint32Array(share.count);
    // Each lane fills its own rows of the step's batch in place: no copy between lane and batch.
    const lanes: Array<AsyncGenerator<void>> = [];
    let covered = 0;
    for (let j = 0; j < this.lanes; j++) {
      const s = batchShare(this.globalBatch, j, this.lanes);
      if (s.offset < share.offset || s.offset + s.count > share.offset + share.count) continue;
      const row = s.offset - share.offset;
      const rows: Batch = {
        pixels: pixels.subarray(row * d, (row + s.count) * d),
        indices: indices.subarray(row, row + s.count),
      };
      lanes.push(this.laneBatches(epoch, startStep, j, rows));
      covered += s.count;
    }
    if (covered !== share.count) {
      throw new RangeError(
        `positions [${share.offset}, ${share.offset + share.count}) are not whole lanes of ${this.lanes}`,
      );
    }
    try {
      for (let s = startStep; s < this.stepsPerEpoch; s++) {
        for (const lane of lanes) {
          const next = await lane.next();
          if (next.done) throw new RangeError(`lane stream ended before step ${s}`);
        }
        yield { pixels, indices };
      }
    } finally {
      for (const lane of lanes) await lane.return(undefined);
    }
  }

  /**
   * Lane `lane`'s runs of images, from step `startStep` to the end of the epoch, each written into
   * `into` (as many rows as it holds); it yields when a run is complete there.
   */
  private async *laneBatches(
    epoch: number,
    startStep: number,
    lane: number,
    into: Batch,
  ): AsyncGenerator<void> {
    const { pixels, indices } = into;
    const b = indices.length;
    const order = this.shardsOf(epoch, lane);
    let skip = startStep * b;
    let left = Math.max(0, this.stepsPerEpoch - startStep) * b;
    // The shard and offset to start from, by the manifest's counts: skipped shards are never read.
    let i = 0;
    while (left > 0 && skip >= this.used[order[i]!]!) skip -= this.used[order[i++]!]!;
    const d = pixelsPerImage(this.shape);
    let row = 0;
    let next = left > 0 ? prefetch(this.reader.readShard(order[i]!)) : null;
    for (; next !== null; i++) {
      const shard = await next;
      const index = order[i]!;
      const end = Math.min(this.used[index]!, skip + left);
      left -= end - skip;
      // Read and verify the next shard while this one is consumed: at most two shards are held.
      next = left > 0 ? prefetch(this.reader.readShard(order[i + 1]!)) : null;
      const perm = new Uint32Array(this.used[index]!);
      for (let k = 0; k < perm.length; k++) perm[k] = k;
      new Rng(deriveSeed(this.seed, epoch, index, SHARD_SAMPLE_STREAM)).shuffle(perm);
      for (let at = skip; at < end;) {
        const n = Math.min(b - row, end - at);
        const taken = perm.subarray(at, at + n);
        gatherBatch(shard.images, taken, pixels.subarray(row * d, (row + n) * d));
        for (let k = 0; k < n; k++) indices[row + k] = this.firstIndex[index]! + taken[k]!;
        at += n;
        row += n;
        if (row === b) {
          row = 0;
          yield;
        }
      }
      skip = 0;
    }
  }
}
