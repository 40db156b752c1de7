/**
 * What the training loop reads: an epoch's global batches in a deterministic order, whether the
 * corpus is held in memory (memory-batch-source.ts) or streamed shard by shard
 * (shard-batch-source.ts), each rank reading only its share of every batch (sampler.ts).
 */
import type { ImageShape } from './corpus.js';
import type { BatchShare } from './sampler.js';

/** One rank's share of a step's global batch. Both arrays are reused for the next batch. */
export interface Batch {
  /** share.count rows of pixelsPerImage(shape) values in [0, 1]. */
  readonly pixels: Float32Array;
  /**
   * The corpus index of each row: its position in the in-memory set, or for a shard corpus in
   * manifest order (shard after shard, each in its own order).
   */
  readonly indices: Uint32Array;
}

/** A deterministic source of training batches; pixels only, never labels. */
export interface BatchSource {
  /** Geometry of every image. */
  readonly shape: ImageShape;
  /** Images an epoch is counted over for step accounting (before the tail is dropped). */
  readonly count: number;
  /** Images per step over all ranks together. */
  readonly globalBatch: number;
  /** How the images are read, for logs: "60000 images in memory", "6 shards streamed, ...". */
  readonly describe: string;
  /** Full global batches in one epoch; the tail that does not fill one is dropped. */
  readonly stepsPerEpoch: number;
  /** The most ranks that can share a batch (the global batch, or a shard corpus's lanes). */
  readonly maxWorldSize: number;
  /** The positions of every global batch that rank `rank` of `worldSize` trains on. */
  shareOf(rank: number, worldSize: number): BatchShare;
  /**
   * The `share` of every batch of `epoch` from step `startStep` to the end of the epoch: a pure
   * function of (seed, epoch, startStep, share) whatever else reads the corpus, so a resumed or
   * re-formed epoch yields exactly the rows an uninterrupted one yields from `startStep` on.
   */
  batches(epoch: number, startStep: number, share: BatchShare): AsyncIterable<Batch>;
}
