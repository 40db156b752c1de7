/**
 * Sample grids through training: after every epoch, rank 0 of a model that samples by decoding prior
 * codes (VAE, GANs) draws the same
 * 100 samples (the same noise every epoch, so the grids show the model changing, not the noise)
 * into `samples-epoch-NNN.png`.
 */
import type { ImageShape } from '../data/corpus.js';
import { Rng } from '../data/rng.js';
import type { Model } from '../models/model.js';
import { tileImages } from './image-grid.js';

const SIDE = 10;

/** The file name of the grid after epoch `epoch` (0-based). */
export function epochSamplesFile(epoch: number): string {
  return `samples-epoch-${String(epoch + 1).padStart(3, '0')}.png`;
}

/**
 * PNG bytes of a 10 x 10 grid of samples drawn with a generator seeded by `seed`; null for a model
 * that does not sample.
 */
export function epochSamplesPng(
  model: Model,
  params: Float32Array,
  shape: ImageShape,
  seed: number,
): Buffer | null {
  if (!model.sample) return null;
  const n = SIDE * SIDE;
  return tileImages(model.sample(params, n, new Rng(seed)), n, shape, { columns: SIDE }).toPng();
}
