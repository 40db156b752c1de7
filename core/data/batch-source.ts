/**
 * What the training loop reads: an epoch's batches in a deterministic order, whether the corpus is
 * held in memory (memory-batch-source.ts) or streamed shard by shard (shard-batch-source.ts).
 */
import type { ImageShape } from './corpus.js';

/** A deterministic source of training batches; pixels only, never labels. */
export interface BatchSource {
  /** Geometry of every image. */
  readonly shape: ImageShape;
  /** Images an epoch is counted over for step accounting (before the tail is dropped). */
  readonly count: number;
  /** How the images are read, for logs: "60000 images in memory", "6 shards streamed, ...". */
  readonly describe: string;
  /** Full batches of `batchSize` images in one epoch; the tail that does not fill one is dropped. */
  stepsPerEpoch(batchSize: number): number;
  /**
   * The batches of `epoch` from step `startStep` to the end of the epoch, each `batchSize` rows of
   * pixelsPerImage(shape) values in [0, 1]; a pure function of (seed, epoch, batchSize, startStep),
   * so a resumed epoch yields exactly the batches an uninterrupted one yields from `startStep` on.
   * The yielded buffer is reused for the next batch: use it before asking for the next one.
   */
  batches(epoch: number, batchSize: number, startStep: number): AsyncIterable<Float32Array>;
}
