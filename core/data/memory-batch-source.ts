/**
 * Batches from a corpus held in memory: each epoch is the permutation epochPermutation(count, seed,
 * epoch) cut into consecutive global batches, the tail that does not fill one dropped; a rank reads
 * its share of positions of each (sampler.ts).
 */
import type { Batch, BatchSource } from './batch-source.js';
import { gatherBatch, pixelsPerImage } from './corpus.js';
import type { ImageSet, ImageShape } from './corpus.js';
import {
  batchShare,
  epochPermutation,
  globalBatchIndices,
  stepsPerEpoch,
  type BatchShare,
} from './sampler.js';

/** A {@link BatchSource} over an in-memory ImageSet (IDX files, image folders). */
export class MemoryBatchSource implements BatchSource {
  readonly globalBatch: number;
  readonly stepsPerEpoch: number;
  private readonly set: ImageSet;
  private readonly seed: number;

  /** Reads `set` in the order of run seed `seed`, `globalBatch` images a step; its labels are never read. */
  constructor(set: ImageSet, seed: number, globalBatch: number) {
    this.set = set;
    this.seed = seed;
    this.globalBatch = globalBatch;
    this.stepsPerEpoch = stepsPerEpoch(set.count, globalBatch);
  }

  get shape(): ImageShape {
    return this.set.shape;
  }

  get count(): number {
    return this.set.count;
  }

  get maxWorldSize(): number {
    return this.globalBatch;
  }

  get describe(): string {
    return `${this.set.count} images in memory`;
  }

  shareOf(rank: number, worldSize: number): BatchShare {
    return batchShare(this.globalBatch, rank, worldSize);
  }

  /** Step s of `epoch` is perm[s*B + offset, s*B + offset + count). */
  async *batches(epoch: number, startStep: number, share: BatchShare): AsyncGenerator<Batch> {
    const perm = epochPermutation(this.set.count, this.seed, epoch);
    const pixels = new Float32Array(share.count * pixelsPerImage(this.set.shape));
    const indices = new Uint32Array(share.count);
    for (let s = startStep; s < this.stepsPerEpoch; s++) {
      const mine = globalBatchIndices(perm, s, this.globalBatch).subarray(
        share.offset,
        share.offset + share.count,
      );
      indices.set(mine);
      gatherBatch(this.set, mine, pixels);
      yield { pixels, indices };
    }
  }
}
