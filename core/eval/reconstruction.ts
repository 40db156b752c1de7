/** Test-set reconstruction error, the figure every model here is compared on (pixels in [0, 1]). */
import type { ImageSet } from '../data/corpus.js';
import { pixelsPerImage } from '../data/corpus.js';
import { HarmoniumError } from '../errors.js';
import type { Model } from '../models/model.js';
import { forEachBatch } from './batches.js';

/** Squared reconstruction error, snake_case as it appears in reports. */
export interface ReconstructionError {
  /** Squared error summed over an image's pixels, averaged over images. */
  readonly sse_per_image: number;
  /** sse_per_image / pixels per image. */
  readonly mse_per_pixel: number;
}

/** Rebuilds a batch of `rows` images (rows x D in [0, 1]); returns rows x D values. */
export type Reconstructor = (batch: Float32Array, rows: number) => Float32Array;

/** Reconstruction error of any reconstructor (a model, PCA) over the first `maxCount` images of `set`. */
export function reconstructionErrorOf(
  reconstruct: Reconstructor,
  set: ImageSet,
  batchSize = 500,
  maxCount = set.count,
): ReconstructionError {
  const d = pixelsPerImage(set.shape);
  let sse = 0;
  let images = 0;
  forEachBatch(
    set,
    batchSize,
    (batch, rows) => {
      const out = reconstruct(batch, rows);
      if (out.length !== rows * d) {
        throw new HarmoniumError(
          'MODEL_INVALID',
          `reconstruction of ${rows} images has ${out.length} values, expected ${rows * d}`,
        );
      }
      for (let i = 0; i < rows * d; i++) {
        const e = out[i]! - batch[i]!;
        sse += e * e;
      }
      images += rows;
    },
    maxCount,
  );
  const perImage = images > 0 ? sse / images : NaN;
  return { sse_per_image: perImage, mse_per_pixel: perImage / d };
}

/** Reconstruction error of `model.reconstruct` on `testSet`, batch by batch. */
export function reconstructionError(
  model: Model,
  params: Float32Array,
  testSet: ImageSet,
  batchSize = 500,
): ReconstructionError {
  const d = pixelsPerImage(testSet.shape);
  if (model.inputSize !== d) {
    throw new HarmoniumError(
      'MODEL_INVALID',
      `model ${model.kind} takes ${model.inputSize} values per image, ${testSet.name} has ${d}`,
    );
  }
  const reconstruct = model.reconstruct?.bind(model);
  if (!reconstruct)
    throw new HarmoniumError('MODEL_INVALID', `model ${model.kind} does not reconstruct its input`);
  return reconstructionErrorOf((batch, rows) => reconstruct(params, batch, rows), testSet, batchSize);
}
