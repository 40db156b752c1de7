/**
 * Batches streamed from a sharded corpus, one shard in memory at a time (plus the next one, read
 * and verified in the background while the current one is consumed).
 *
 * The order of an epoch, a pure function of (seed, epoch, rank, worldSize): the shards this rank
 * reads are assignShards(shardOrder(numShards, seed, epoch), rank, worldSize) (sampler.ts); the
 * images of each shard are shuffled by Rng(deriveSeed(seed, epoch, shard index, stream)), so a shard
 * is read the same way whichever rank gets it; these images, shard after shard, are cut into
 * consecutive batches that may span a shard boundary, and the tail that does not fill a batch is
 * dropped. Resuming at a step finds the shard and offset it starts from with the manifest's counts
 * alone, so the shards before it are neither read nor decoded.
 */
import type { BatchSource } from './batch-source.js';
import { gatherBatch, pixelsPerImage } from './corpus.js';
import type { ImageShape } from './corpus.js';
import { Rng, deriveSeed } from './rng.js';
import { assignShards, shardOrder, stepsPerEpoch } from './sampler.js';
import type { LoadedShard, ShardCorpus } from './shard-reader.js';
import { ConfigError } from '../errors.js';

/** Stream id of the within-shard shuffle, so it shares no numbers with the other seeds. */
const SHARD_SAMPLE_STREAM = 0x5353;

/** Options for {@link ShardBatchSource}. */
export interface ShardBatchSourceOptions {
  /** The run seed. */
  readonly seed: number;
  /** This worker's rank, 0 (default) to worldSize - 1. */
  readonly rank?: number;
  /** Number of workers sharing the corpus; default 1. */
  readonly worldSize?: number;
  /** Train on the first `limit` images of the corpus in manifest order; 0 (default) means all. */
  readonly limit?: number;
}

/** Marks a read started ahead of use as handled, so that its failure surfaces only when awaited. */
function prefetch(read: Promise<LoadedShard>): Promise<LoadedShard> {
  read.catch(() => undefined);
  return read;
}

/** A {@link BatchSource} streaming a {@link ShardCorpus} (see the file comment for the order). */
export class ShardBatchSource implements BatchSource {
  readonly count: number;
  private readonly corpus: ShardCorpus;
  private readonly seed: number;
  private readonly rank: number;
  private readonly worldSize: number;
  /** Images used of each shard, in manifest order: all of them, except past the limit. */
  private readonly used: readonly number[];

  /**
   * Streams `corpus` for rank `opts.rank` of `opts.worldSize`. Throws ConfigError on "data" when
   * there are fewer shards than workers.
   */
  constructor(corpus: ShardCorpus, opts: ShardBatchSourceOptions) {
    this.corpus = corpus;
    this.seed = opts.seed;
    this.rank = opts.rank ?? 0;
    this.worldSize = opts.worldSize ?? 1;
    let left = opts.limit !== undefined && opts.limit > 0 ? opts.limit : corpus.count;
    const used: number[] = [];
    for (const info of corpus.manifest.shards) {
      if (left === 0) break;
      used.push(Math.min(info.count, left));
      left -= used[used.length - 1]!;
    }
    this.used = used;
    const perRank = Math.floor(used.length / this.worldSize);
    if (used.length > 0 && perRank === 0) {
      throw new ConfigError(
        'data',
        `${corpus.dir} has ${used.length} shards in use, fewer than the ${this.worldSize} workers`,
      );
    }
    // Which shards a rank gets changes every epoch: count over the smallest ones it could get, so
    // that every rank runs the same number of steps every epoch (all of them when worldSize is 1).
    const smallest = [...used].sort((a, b) => a - b).slice(0, perRank);
    this.count = smallest.reduce((a, b) => a + b, 0);
  }

  get shape(): ImageShape {
    return this.corpus.shape;
  }

  get describe(): string {
    return `${this.used.length} shards streamed, ${this.count} images an epoch`;
  }

  /** floor(count / batchSize): the images left over after the last full batch are dropped. */
  stepsPerEpoch(batchSize: number): number {
    return stepsPerEpoch(this.count, batchSize);
  }

  /** The shards this rank reads in `epoch`, in reading order (indices into manifest.shards). */
  shardsOf(epoch: number): number[] {
    return assignShards(shardOrder(this.used.length, this.seed, epoch), this.rank, this.worldSize);
  }

  async *batches(epoch: number, batchSize: number, startStep: number): AsyncGenerator<Float32Array> {
    const order = this.shardsOf(epoch);
    const steps = this.stepsPerEpoch(batchSize);
    let skip = startStep * batchSize;
    let left = Math.max(0, steps - startStep) * batchSize;
    // The shard and offset to start from, by the manifest's counts: skipped shards are never read.
    let i = 0;
    while (left > 0 && skip >= this.used[order[i]!]!) skip -= this.used[order[i++]!]!;
    const d = pixelsPerImage(this.shape);
    const batch = new Float32Array(batchSize * d);
    let row = 0;
    let next = left > 0 ? prefetch(this.corpus.readShard(order[i]!)) : null;
    for (; next !== null; i++) {
      const shard = await next;
      const index = order[i]!;
      const end = Math.min(this.used[index]!, skip + left);
      left -= end - skip;
      // Read and verify the next shard while this one is consumed: at most two shards are held.
      next = left > 0 ? prefetch(this.corpus.readShard(order[i + 1]!)) : null;
      const perm = new Uint32Array(this.used[index]!);
      for (let k = 0; k < perm.length; k++) perm[k] = k;
      new Rng(deriveSeed(this.seed, epoch, index, SHARD_SAMPLE_STREAM)).shuffle(perm);
      for (let at = skip; at < end;) {
        const n = Math.min(batchSize - row, end - at);
        gatherBatch(shard.images, perm.subarray(at, at + n), batch.subarray(row * d, (row + n) * d));
        at += n;
        row += n;
        if (row === batchSize) {
          row = 0;
          yield batch;
        }
      }
      skip = 0;
    }
  }
}
