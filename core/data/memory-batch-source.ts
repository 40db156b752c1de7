/**
 * Batches from a corpus held in memory: each epoch is the permutation epochPermutation(count, seed,
 * epoch) cut into consecutive batches, the tail that does not fill a batch dropped (sampler.ts).
 */
import type { BatchSource } from './batch-source.js';
import { gatherBatch, pixelsPerImage } from './corpus.js';
import type { ImageSet, ImageShape } from './corpus.js';
import { epochPermutation, stepsPerEpoch } from './sampler.js';

/** A {@link BatchSource} over an in-memory ImageSet (IDX files, image folders). */
export class MemoryBatchSource implements BatchSource {
  private readonly set: ImageSet;
  private readonly seed: number;

  /** Reads `set` in the order of run seed `seed`; its labels are never read. */
  constructor(set: ImageSet, seed: number) {
    this.set = set;
    this.seed = seed;
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

  stepsPerEpoch(batchSize: number): number {
    return stepsPerEpoch(this.set.count, batchSize);
  }

  /** Step s of `epoch` is perm[s*B, (s+1)*B) of that epoch's permutation. */
  async *batches(epoch: number, batchSize: number, startStep: number): AsyncGenerator<Float32Array> {
    const perm = epochPermutation(this.set.count, this.seed, epoch);
    const steps = this.stepsPerEpoch(batchSize);
    const batch = new Float32Array(batchSize * pixelsPerImage(this.set.shape));
    for (let s = startStep; s < steps; s++) {
      yield gatherBatch(this.set, perm.subarray(s * batchSize, (s + 1) * batchSize), batch);
    }
  }
}
