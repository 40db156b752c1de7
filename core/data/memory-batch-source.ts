/**
 * Batches from a corpus held in memory: each epoch is the permutation epochPermutation(count, seed,
 * epoch) cut into consecutive global batches of worldSize * b images, the tail that does not fill
 * one dropped; rank r takes the r-th slice of b images of each (sampler.ts, rankBatchIndices).
 */
import type { BatchSource } from './batch-source.js';
import { gatherBatch, pixelsPerImage } from './corpus.js';
import type { ImageSet, ImageShape } from './corpus.js';
import { epochPermutation, rankBatchIndices, stepsPerEpoch } from './sampler.js';

/** A {@link BatchSource} over an in-memory ImageSet (IDX files, image folders). */
export class MemoryBatchSource implements BatchSource {
  private readonly set: ImageSet;
  private readonly seed: number;
  private readonly rank: number;
  private readonly worldSize: number;

  /**
   * Reads `set` in the order of run seed `seed`, as rank `placement.rank` of
   * `placement.worldSize` (default: the only rank); its labels are never read.
   */
  constructor(
    set: ImageSet,
    seed: number,
    placement: { rank: number; worldSize: number } = { rank: 0, worldSize: 1 },
  ) {
    this.set = set;
    this.seed = seed;
    this.rank = placement.rank;
    this.worldSize = placement.worldSize;
  }

  get shape(): ImageShape {
    return this.set.shape;
  }

  get count(): number {
    return this.set.count;
  }

  get describe(): string {
    return `${this.set.count} images in memory`;
  }

  /** Steps per epoch for `batchSize` images per rank: floor(count / (worldSize * batchSize)). */
  stepsPerEpoch(batchSize: number): number {
    return stepsPerEpoch(this.set.count, batchSize * this.worldSize);
  }

  /** Step s of `epoch` is this rank's slice of perm[s*B, (s+1)*B), B = worldSize * batchSize. */
  async *batches(epoch: number, batchSize: number, startStep: number): AsyncGenerator<Float32Array> {
    const perm = epochPermutation(this.set.count, this.seed, epoch);
    const steps = this.stepsPerEpoch(batchSize);
    const batch = new Float32Array(batchSize * pixelsPerImage(this.set.shape));
    for (let s = startStep; s < steps; s++) {
      yield gatherBatch(this.set, rankBatchIndices(perm, s, this.rank, this.worldSize, batchSize), batch);
    }
  }
}
