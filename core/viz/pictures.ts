/**
 * The pictures of a trained model, chosen by what the model can do: reconstructions always; samples
 * when it is generative; first-layer filters when its first weight matrix maps pixels to units;
 * the test codes in 2-D; the VAE's decoded latent manifold; decodes along lines in code space;
 * arithmetic on class mean codes when the test images are labelled.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { ImageSet } from '../data/corpus.js';
import { gatherBatch, pixelsPerImage } from '../data/corpus.js';
import { Rng } from '../data/rng.js';
import { HarmoniumError } from '../errors.js';
import { rangeIndices } from '../eval/batches.js';
import type { FeatureClassifier } from '../eval/feature-classifier.js';
import { fitPca, pcaEncode } from '../eval/pca.js';
import type { Model } from '../models/model.js';
import { paramOffsets } from '../models/model.js';
import { tileImages } from './image-grid.js';
import { generatedArithmeticPicture, latentArithmeticPicture } from './latent-arithmetic.js';
import type { Rgb } from './png-image.js';
import { RgbImage } from './png-image.js';

/** Knobs of {@link writePictures}. */
export interface PictureOptions {
  /** Images to reconstruct, encode and interpolate between (labels colour the scatter). */
  readonly test: ImageSet;
  /** Created if missing. */
  readonly outDir: string;
  /**
   * Draws the samples, the interpolation pairs, the scatter's drawing order and the latent
   * arithmetic's class-C images.
   */
  readonly rng: Rng;
  /** Test images in the latent scatter. Default 5000. */
  readonly maxScatter?: number;
  /** Images per model call. Default 500. */
  readonly batchSize?: number;
  /**
   * Classifies generated images for the latent arithmetic of a model without an encoder (the GAN);
   * without it that picture is left out.
   */
  readonly classifier?: FeatureClassifier;
}

/** One picture written. */
export interface PictureFile {
  /** File name inside outDir, e.g. "samples.png". */
  readonly file: string;
  readonly path: string;
  /** One line saying what it shows. */
  readonly description: string;
}

/** Ten well-separated colours (matplotlib's tab10), one per class. */
export const PALETTE: readonly Rgb[] = [
  [31, 119, 180],
  [255, 127, 14],
  [44, 160, 44],
  [214, 39, 40],
  [148, 103, 189],
  [140, 86, 75],
  [227, 119, 194],
  [127, 127, 127],
  [188, 189, 34],
  [23, 190, 207],
];

const GRID_COLUMNS = 10;
const RECONSTRUCTION_ROWS = 8;
const MANIFOLD_SIDE = 15;
const INTERPOLATION_STEPS = 10;
const INTERPOLATION_ROWS = 4;

/** Writes the pictures that apply to `model` into `opts.outDir`; returns them in a fixed order. */
export async function writePictures(
  model: Model,
  params: Float32Array,
  opts: PictureOptions,
): Promise<PictureFile[]> {
  const { test } = opts;
  const d = pixelsPerImage(test.shape);
  if (model.inputSize !== d) {
    throw new HarmoniumError(
      'MODEL_INVALID',
      `model ${model.kind} takes ${model.inputSize} values per image, ${test.name} has ${d}`,
    );
  }
  if (test.count < 2)
    throw new HarmoniumError(
      'MODEL_INVALID',
      `pictures need at least 2 test images, ${test.name} has ${test.count}`,
    );
  await mkdir(opts.outDir, { recursive: true });
  const batchSize = opts.batchSize ?? 500;
  const pictures: Picture[] = [];

  if (model.reconstruct) pictures.push(reconstructions(model.reconstruct.bind(model), params, test));
  if (model.sample) {
    const n = GRID_COLUMNS * GRID_COLUMNS;
    pictures.push({
      file: 'samples.png',
      image: tileImages(model.sample(params, n, opts.rng), n, test.shape, { columns: GRID_COLUMNS }),
      description: `${n} samples drawn from the model (${GRID_COLUMNS} x ${GRID_COLUMNS})`,
    });
  }
  const filters = firstLayerFilters(model, params, test);
  if (filters) pictures.push(filters);
  const encode = model.encode?.bind(model);
  if (encode && model.codeSize >= 2)
    pictures.push(latentScatter(model, encode, params, test, opts, batchSize));
  if (model.kind === 'vae' && model.codeSize === 2) pictures.push(manifold(model, params, test));
  if (encode && model.codeSize >= 1) pictures.push(interpolation(model, encode, params, test, opts.rng));
  // Arithmetic on codes needs labels (null without them or with one class); the RBM's code,
  // p(h|v) in [0, 1]^k, is left out.
  if (encode && model.codeSize >= 1 && model.kind !== 'rbm') {
    const arithmetic = latentArithmeticPicture(model, params, test, opts.rng, { batchSize });
    if (arithmetic) pictures.push(arithmetic);
  }
  if (!encode && model.priorCodes) {
    pictures.push(priorInterpolation(model, model.priorCodes.bind(model), params, test, opts.rng));
    if (opts.classifier) {
      const arithmetic = generatedArithmeticPicture(model, params, opts.classifier, test, opts.rng, {
        batchSize,
      });
      if (arithmetic) pictures.push(arithmetic);
    }
  }

  if (encode && model.codeSize === 2) pictures.push(codesBesidePca(encode, params, test, opts, batchSize));

  const out: PictureFile[] = [];
  for (const p of pictures) {
    const path = join(opts.outDir, p.file);
    await p.image.writePng(path);
    out.push({ file: p.file, path, description: p.description });
  }
  return out;
}

type Picture = { file: string; image: RgbImage; description: string };

/** Rows of test inputs, each followed by a row of their reconstructions. */
function reconstructions(
  reconstruct: NonNullable<Model['reconstruct']>,
  params: Float32Array,
  test: ImageSet,
): Picture {
  const d = pixelsPerImage(test.shape);
  const columns = Math.min(GRID_COLUMNS, test.count);
  const rows = Math.min(RECONSTRUCTION_ROWS, Math.floor(test.count / columns));
  const n = rows * columns;
  const inputs = gatherBatch(test, rangeIndices(0, n));
  const recon = reconstruct(params, inputs, n);
  const tiles = new Float32Array(2 * n * d);
  for (let r = 0; r < rows; r++) {
    const row = columns * d;
    tiles.set(inputs.subarray(r * row, (r + 1) * row), 2 * r * row);
    tiles.set(recon.subarray(r * row, (r + 1) * row), (2 * r + 1) * row);
  }
  return {
    file: 'reconstructions.png',
    image: tileImages(tiles, 2 * n, test.shape, { columns }),
    description: `the first ${n} test images, each row of inputs followed by a row of their reconstructions`,
  };
}

/** Columns of the first 2-D weight matrix when it is [inputSize, hidden]: what each unit looks for. */
function firstLayerFilters(model: Model, params: Float32Array, test: ImageSet): Picture | null {
  const spec = model.paramSpecs.find((s) => s.shape.length === 2);
  if (!spec || spec.shape[0] !== model.inputSize) return null;
  const hidden = spec.shape[1]!;
  const { offset } = paramOffsets(model.paramSpecs).get(spec.name)!;
  const n = Math.min(hidden, GRID_COLUMNS * GRID_COLUMNS);
  const d = model.inputSize;
  const tiles = new Float32Array(n * d);
  for (let j = 0; j < n; j++) for (let i = 0; i < d; i++) tiles[j * d + i] = params[offset + i * hidden + j]!;
  return {
    file: 'filters.png',
    image: tileImages(tiles, n, test.shape, { columns: GRID_COLUMNS, normalise: 'per-tile' }),
    description: `first-layer weights "${spec.name}" of ${n} of ${hidden} units, each stretched to its own range`,
  };
}

/** Codes of test images as points coloured by label, with a legend of class colours. */
function latentScatter(
  model: Model,
  encode: NonNullable<Model['encode']>,
  params: Float32Array,
  test: ImageSet,
  opts: PictureOptions,
  batchSize: number,
): Picture {
  const k = model.codeSize;
  const n = Math.min(opts.maxScatter ?? 5000, test.count);
  const d = pixelsPerImage(test.shape);
  let codes: Float32Array = new Float32Array(n * k);
  for (let start = 0; start < n; start += batchSize) {
    const rows = Math.min(batchSize, n - start);
    codes.set(
      encode(params, gatherBatch(test, rangeIndices(start, rows), new Float32Array(rows * d)), rows),
      start * k,
    );
  }
  let how = '2-D codes';
  if (k > 2) {
    codes = pcaEncode(fitPca(codes, n, k, 2), codes, n);
    how = `first two principal components of the ${k}-D codes`;
  }
  const order = opts.rng.shuffle(Array.from({ length: n }, (_, i) => i));
  const { image, colouring } = scatterImage([codes], n, test, order);
  return {
    file: 'latent-scatter.png',
    image,
    description: `${how} of ${n} test images, ${colouring}`,
  };
}

const PLOT = 480;
const MARGIN = 12;

/**
 * Panels of n 2-D points each, side by side, coloured by the test labels, drawn in `order` (shuffled,
 * so no class is systematically painted over by the next), with one legend of class colours.
 */
function scatterImage(
  panels: readonly Float32Array[],
  n: number,
  test: ImageSet,
  order: readonly number[],
): { image: RgbImage; colouring: string } {
  const legendWidth = test.labels ? 40 : 0;
  const panelWidth = PLOT + 2 * MARGIN;
  const img = new RgbImage(panels.length * panelWidth + legendWidth, PLOT + 2 * MARGIN);
  for (const [p, xy] of panels.entries()) {
    const left = p * panelWidth + MARGIN;
    img.fillRect(left - 1, MARGIN - 1, PLOT + 2, PLOT + 2, [200, 200, 200]);
    img.fillRect(left, MARGIN, PLOT, PLOT, [255, 255, 255]);
    const [x0, x1] = paddedRange(xy, 0, n);
    const [y0, y1] = paddedRange(xy, 1, n);
    for (const i of order) {
      const px = left + ((xy[2 * i]! - x0) / (x1 - x0)) * PLOT;
      const py = MARGIN + PLOT - ((xy[2 * i + 1]! - y0) / (y1 - y0)) * PLOT;
      const colour = test.labels ? PALETTE[test.labels[i]! % PALETTE.length]! : PALETTE[0]!;
      img.fillCircle(px, py, 1.6, colour);
    }
  }
  let classes = 0;
  if (test.labels) {
    for (let i = 0; i < n; i++) classes = Math.max(classes, test.labels[i]! + 1);
    const x = panels.length * panelWidth;
    for (let c = 0; c < Math.min(classes, PALETTE.length); c++) {
      const top = MARGIN + 4 + c * 14;
      img.fillRect(x, top, 9, 9, PALETTE[c]!);
      img.drawDigits(x + 13, top + 2, String(c), [0, 0, 0]);
    }
  }
  const colouring = test.labels
    ? `coloured by label (legend: classes 0-${classes - 1} top to bottom)`
    : 'unlabelled';
  return { image: img, colouring };
}

/**
 * Hinton & Salakhutdinov's Fig. 3: the first two principal components of the test pixels (left)
 * beside the model's 2-D codes of the same images (right). The PCA is fitted on those test images.
 */
function codesBesidePca(
  encode: NonNullable<Model['encode']>,
  params: Float32Array,
  test: ImageSet,
  opts: PictureOptions,
  batchSize: number,
): Picture {
  const n = Math.min(opts.maxScatter ?? 5000, test.count);
  const d = pixelsPerImage(test.shape);
  const pixels = gatherBatch(test, rangeIndices(0, n));
  const codes = new Float32Array(n * 2);
  for (let start = 0; start < n; start += batchSize) {
    const rows = Math.min(batchSize, n - start);
    codes.set(encode(params, pixels.subarray(start * d, (start + rows) * d), rows), start * 2);
  }
  const pca = pcaEncode(fitPca(pixels, n, d, 2), pixels, n);
  // Its own fixed order: drawn last, this picture leaves the shared rng as the others expect it.
  const order = new Rng(n).shuffle(Array.from({ length: n }, (_, i) => i));
  const { image, colouring } = scatterImage([pca, codes], n, test, order);
  return {
    file: 'codes-vs-pca.png',
    image,
    description: `left: the first two principal components of ${n} test images (PCA fitted on them); right: their 2-D codes; ${colouring}`,
  };
}

/** Min..max of coordinate `axis` of n 2-D points, padded by 3% (never empty). */
function paddedRange(xy: Float32Array, axis: number, n: number): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < n; i++) {
    const v = xy[2 * i + axis]!;
    if (Number.isFinite(v)) {
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    }
  }
  if (!(hi > lo)) return [(Number.isFinite(lo) ? lo : 0) - 1, (Number.isFinite(hi) ? hi : 0) + 1];
  const pad = 0.03 * (hi - lo);
  return [lo - pad, hi + pad];
}

/** Decodes over a grid of prior quantiles of a 2-D Gaussian latent (Kingma & Welling, Fig. 4). */
function manifold(model: Model, params: Float32Array, test: ImageSet): Picture {
  const side = MANIFOLD_SIDE;
  const codes = new Float32Array(side * side * 2);
  for (let r = 0; r < side; r++) {
    for (let c = 0; c < side; c++) {
      // z1 grows left to right, z2 bottom to top, through evenly spaced quantiles of N(0, 1).
      codes[2 * (r * side + c)] = normalQuantile((c + 0.5) / side);
      codes[2 * (r * side + c) + 1] = normalQuantile((side - r - 0.5) / side);
    }
  }
  return {
    file: 'manifold.png',
    image: tileImages(model.decode(params, codes, side * side), side * side, test.shape, { columns: side }),
    description: `decodes of a ${side} x ${side} grid of prior quantiles over the 2-D latent (z1 left to right, z2 bottom to top)`,
  };
}

/** Rows of decodes along the line between two codes drawn from the prior (ends included). */
function priorInterpolation(
  model: Model,
  priorCodes: NonNullable<Model['priorCodes']>,
  params: Float32Array,
  test: ImageSet,
  rng: Rng,
): Picture {
  const k = model.codeSize;
  const rows = INTERPOLATION_ROWS;
  const steps = INTERPOLATION_STEPS + 2;
  const ends = priorCodes(2 * rows, rng);
  const mixed = new Float32Array(rows * steps * k);
  for (let r = 0; r < rows; r++) {
    for (let s = 0; s < steps; s++) {
      const t = s / (steps - 1);
      for (let j = 0; j < k; j++) {
        mixed[(r * steps + s) * k + j] = (1 - t) * ends[2 * r * k + j]! + t * ends[(2 * r + 1) * k + j]!;
      }
    }
  }
  return {
    file: 'interpolation.png',
    image: tileImages(model.decode(params, mixed, rows * steps), rows * steps, test.shape, {
      columns: steps,
    }),
    description: `${rows} rows of decodes at ${steps} evenly spaced points of the line between two codes drawn from the prior`,
  };
}

/** Rows of: a test image, decodes along the line from its code to another's, that other image. */
function interpolation(
  model: Model,
  encode: NonNullable<Model['encode']>,
  params: Float32Array,
  test: ImageSet,
  rng: Rng,
): Picture {
  const d = pixelsPerImage(test.shape);
  const k = model.codeSize;
  const rows = Math.min(INTERPOLATION_ROWS, Math.floor(test.count / 2));
  const picks = rng.shuffle(Array.from({ length: test.count }, (_, i) => i)).slice(0, 2 * rows);
  const images = gatherBatch(test, picks);
  const codes = encode(params, images, 2 * rows);
  const steps = INTERPOLATION_STEPS;
  const mixed = new Float32Array(rows * steps * k);
  for (let r = 0; r < rows; r++) {
    for (let s = 0; s < steps; s++) {
      const t = s / (steps - 1);
      for (let j = 0; j < k; j++) {
        mixed[(r * steps + s) * k + j] = (1 - t) * codes[2 * r * k + j]! + t * codes[(2 * r + 1) * k + j]!;
      }
    }
  }
  const decoded = model.decode(params, mixed, rows * steps);
  const columns = steps + 2;
  const tiles = new Float32Array(rows * columns * d);
  for (let r = 0; r < rows; r++) {
    const base = r * columns * d;
    tiles.set(images.subarray(2 * r * d, (2 * r + 1) * d), base);
    tiles.set(decoded.subarray(r * steps * d, (r + 1) * steps * d), base + d);
    tiles.set(images.subarray((2 * r + 1) * d, (2 * r + 2) * d), base + (steps + 1) * d);
  }
  return {
    file: 'interpolation.png',
    image: tileImages(tiles, rows * columns, test.shape, { columns }),
    description: `${rows} rows: a test image, ${steps} decodes of codes linearly interpolated to another test image's code, that image`,
  };
}

/**
 * Quantile function of the standard normal (Acklam's rational approximation, relative error below
 * 1.2e-9), for p in (0, 1).
 */
export function normalQuantile(p: number): number {
  if (!(p > 0 && p < 1)) throw new RangeError(`normal quantile needs p in (0, 1), got ${p}`);
  const a = [
    -39.69683028665376, 220.9460984245205, -275.9285104469687, 138.357751867269, -30.66479806614716,
    2.506628277459239,
  ];
  const b = [
    -54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572,
  ];
  const c = [
    -0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734, 4.374664141464968,
    2.938163982698783,
  ];
  const e = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416];
  const tail = (q: number): number =>
    (((((c[0]! * q + c[1]!) * q + c[2]!) * q + c[3]!) * q + c[4]!) * q + c[5]!) /
    ((((e[0]! * q + e[1]!) * q + e[2]!) * q + e[3]!) * q + 1);
  const low = 0.02425;
  if (p < low) return tail(Math.sqrt(-2 * Math.log(p)));
  if (p > 1 - low) return -tail(Math.sqrt(-2 * Math.log(1 - p)));
  const q = p - 0.5;
  const r = q * q;
  return (
    ((((((a[0]! * r + a[1]!) * r + a[2]!) * r + a[3]!) * r + a[4]!) * r + a[5]!) * q) /
    (((((b[0]! * r + b[1]!) * r + b[2]!) * r + b[3]!) * r + b[4]!) * r + 1)
  );
}
