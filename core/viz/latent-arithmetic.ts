/**
 * Vector arithmetic in code space, drawn as equations: for a few class triples (A, B, C), the mean
 * code of class A minus the mean code of class B plus the code of one image of class C, decoded.
 * Each row reads decode(mean A) − decode(mean B) + reconstruction of C = decode(mean A − mean B + C).
 */
import type { ImageSet, ImageShape } from '../data/corpus.js';
import { gatherBatch } from '../data/corpus.js';
import type { Rng } from '../data/rng.js';
import type { FeatureClassifier } from '../eval/feature-classifier.js';
import { argMax } from '../eval/feature-classifier.js';
import type { Model } from '../models/model.js';
import { tileImages } from './image-grid.js';
import type { Rgb } from './png-image.js';
import { RgbImage } from './png-image.js';

/** One row: mean code of class `a` − mean code of class `b` + the code of one image of class `c`. */
export interface ArithmeticTriple {
  readonly a: number;
  readonly b: number;
  readonly c: number;
}

/** Fashion-MNIST's class names, by label. */
export const FASHION_MNIST_CLASSES: readonly string[] = [
  'T-shirt/top',
  'Trouser',
  'Pullover',
  'Dress',
  'Coat',
  'Sandal',
  'Shirt',
  'Sneaker',
  'Bag',
  'Ankle boot',
];

/**
 * Triples whose difference is a visible attribute of Fashion-MNIST's classes: a shaft (ankle boot
 * − sneaker), open straps (sandal − sneaker), long sleeves (pullover − T-shirt), no sleeves
 * (T-shirt − pullover), length (dress − T-shirt).
 */
export const FASHION_MNIST_TRIPLES: readonly ArithmeticTriple[] = [
  { a: 9, b: 7, c: 5 },
  { a: 5, b: 7, c: 9 },
  { a: 2, b: 0, c: 3 },
  { a: 0, b: 2, c: 4 },
  { a: 3, b: 0, c: 2 },
];

/** Rows drawn for a dataset other than Fashion-MNIST, at most. */
const MAX_ROWS = FASHION_MNIST_TRIPLES.length;

/**
 * The triples for a labelled set whose labels take the values `classes` (any order, duplicates
 * ignored). Fashion-MNIST (a set named "fashion-mnist/...") gets {@link FASHION_MNIST_TRIPLES}
 * whose classes are all present; any other set with m >= 2 classes gets min(5, m) rows of three
 * consecutive classes (sorted, wrapping around) starting floor(m / rows) classes apart, so the rows
 * spread over the classes; fewer than 2 classes give none.
 */
export function chooseTriples(classes: Iterable<number>, datasetName: string): ArithmeticTriple[] {
  const present = [...new Set(classes)].sort((x, y) => x - y);
  if (present.length < 2) return [];
  if (isFashionMnist(datasetName)) {
    const has = new Set(present);
    const fashion = FASHION_MNIST_TRIPLES.filter((t) => has.has(t.a) && has.has(t.b) && has.has(t.c));
    if (fashion.length > 0) return fashion;
  }
  const m = present.length;
  const rows = Math.min(MAX_ROWS, m);
  const stride = Math.floor(m / rows);
  return Array.from({ length: rows }, (_, r) => ({
    a: present[(r * stride) % m]!,
    b: present[(r * stride + 1) % m]!,
    c: present[(r * stride + 2) % m]!,
  }));
}

function isFashionMnist(datasetName: string): boolean {
  return datasetName.startsWith('fashion-mnist/');
}

const DEFAULT_PER_CLASS = 500;

/** Knobs of {@link latentArithmetic}. */
export interface LatentArithmeticOptions {
  /** Images per model call. Default 500. */
  readonly batchSize?: number;
  /** Test images per class whose codes are averaged (the first of each class). Default 500. */
  readonly perClass?: number;
}

/** What {@link latentArithmetic} computed, before drawing. */
export interface LatentArithmetic {
  readonly triples: readonly ArithmeticTriple[];
  /** Per row, the index in the test set of its class-C image (drawn from the rng). */
  readonly picks: readonly number[];
  /** Per class used in a mean, how many test images that mean averages. */
  readonly meanCounts: ReadonlyMap<number, number>;
  /**
   * 4 images per row, row after row: decode(mean A), decode(mean B), decode(code C) (C's
   * reconstruction) and decode(mean A − mean B + code C).
   */
  readonly tiles: Float32Array;
}

/**
 * Computes the rows for `test`'s labels; null when it has no labels or fewer than 2 classes. Mean
 * codes are summed in float64 and divided by the count; mean A − mean B + code C is taken in
 * float64 and rounded to float32 once, as the decoder gets it. Draws one integer per row from `rng`.
 */
export function latentArithmetic(
  model: Model,
  params: Float32Array,
  test: ImageSet,
  rng: Rng,
  opts: LatentArithmeticOptions = {},
): LatentArithmetic | null {
  const labels = test.labels;
  if (!labels || !model.encode || model.codeSize < 1) return null;
  const triples = chooseTriples(labels.subarray(0, test.count), test.name);
  if (triples.length === 0) return null;
  const members = new Map<number, number[]>();
  for (let i = 0; i < test.count; i++) {
    const list = members.get(labels[i]!);
    if (list) list.push(i);
    else members.set(labels[i]!, [i]);
  }
  const k = model.codeSize;
  const batchSize = opts.batchSize ?? 500;
  const perClass = opts.perClass ?? DEFAULT_PER_CLASS;

  const { means, meanCounts } = classMeans(triples, k, (cls) =>
    encodeImages(model, params, test, members.get(cls)!.slice(0, perClass), batchSize),
  );
  const picks = pickMembers(triples, members, rng);
  const pickCodes = encodeImages(model, params, test, picks, batchSize);
  const tiles = arithmeticTiles(model, params, triples, means, pickCodes, batchSize);
  return { triples, picks, meanCounts, tiles };
}

/**
 * The mean code of every class A and B of `triples` (summed in float64, divided by the count), from
 * the codes (rows of k) that `codesOf` gives for a class, and how many each mean averages.
 */
function classMeans(
  triples: readonly ArithmeticTriple[],
  k: number,
  codesOf: (cls: number) => Float32Array,
): { means: Map<number, Float64Array>; meanCounts: Map<number, number> } {
  const means = new Map<number, Float64Array>();
  const meanCounts = new Map<number, number>();
  for (const t of triples) {
    for (const cls of [t.a, t.b]) {
      if (means.has(cls)) continue;
      const codes = codesOf(cls);
      const count = codes.length / k;
      const sum = new Float64Array(k);
      for (let r = 0; r < count; r++) for (let j = 0; j < k; j++) sum[j]! += codes[r * k + j]!;
      for (let j = 0; j < k; j++) sum[j]! /= count;
      means.set(cls, sum);
      meanCounts.set(cls, count);
    }
  }
  return { means, meanCounts };
}

/** Per triple, one member of its class C, drawn from `rng` (one integer per triple). */
function pickMembers(
  triples: readonly ArithmeticTriple[],
  members: ReadonlyMap<number, readonly number[]>,
  rng: Rng,
): number[] {
  return triples.map((t) => {
    const list = members.get(t.c)!;
    return list[rng.int(list.length)]!;
  });
}

/**
 * Decodes, per triple, mean A, mean B, the code of C (row r of `pickCodes`) and mean A − mean B +
 * code C (taken in float64, rounded to float32 once), `batchSize` codes per decoder call.
 */
function arithmeticTiles(
  model: Model,
  params: Float32Array,
  triples: readonly ArithmeticTriple[],
  means: ReadonlyMap<number, Float64Array>,
  pickCodes: Float32Array,
  batchSize: number,
): Float32Array {
  const k = model.codeSize;
  const rows = triples.length;
  const codes = new Float32Array(4 * rows * k);
  for (let r = 0; r < rows; r++) {
    const meanA = means.get(triples[r]!.a)!;
    const meanB = means.get(triples[r]!.b)!;
    const base = 4 * r * k;
    for (let j = 0; j < k; j++) {
      const c = pickCodes[r * k + j]!;
      codes[base + j] = meanA[j]!;
      codes[base + k + j] = meanB[j]!;
      codes[base + 2 * k + j] = c;
      codes[base + 3 * k + j] = meanA[j]! - meanB[j]! + c;
    }
  }
  const d = model.inputSize;
  const tiles = new Float32Array(4 * rows * d);
  for (let start = 0; start < 4 * rows; start += batchSize) {
    const n = Math.min(batchSize, 4 * rows - start);
    tiles.set(model.decode(params, codes.subarray(start * k, (start + n) * k), n), start * d);
  }
  return tiles;
}

/** Knobs of {@link generatedArithmetic}. */
export interface GeneratedArithmeticOptions {
  /** Codes drawn from the prior and classified. Default 5000. */
  readonly pool?: number;
  /** Least probability of a code's predicted class for it to join that class. Default 0.9. */
  readonly confidence?: number;
  /** Codes per class averaged at most. Default 500. */
  readonly perClass?: number;
  /** Codes per decoder and classifier call. Default 500. */
  readonly batchSize?: number;
}

/** The least number of confidently classified codes a class needs to take part. */
const MIN_CLASS_CODES = 10;

/**
 * Latent arithmetic for a model without an encoder (the GAN): `pool` codes drawn from its prior are
 * decoded and classified by `classifier`; each code whose predicted class has probability at least
 * `confidence` joins that class (Radford et al. averaged three hand-picked codes per concept; the
 * classifier picks here). Classes with fewer than 10 such codes are left out; `picks` index the
 * pool. Null when fewer than 2 classes remain.
 */
export function generatedArithmetic(
  model: Model,
  params: Float32Array,
  classifier: FeatureClassifier,
  datasetName: string,
  rng: Rng,
  opts: GeneratedArithmeticOptions = {},
): LatentArithmetic | null {
  if (!model.priorCodes || model.codeSize < 1) return null;
  const k = model.codeSize;
  const pool = opts.pool ?? 5000;
  const batchSize = opts.batchSize ?? 500;
  const confidence = opts.confidence ?? 0.9;
  const codes = model.priorCodes(pool, rng);
  const members = new Map<number, number[]>();
  for (let start = 0; start < pool; start += batchSize) {
    const n = Math.min(batchSize, pool - start);
    const images = model.decode(params, codes.subarray(start * k, (start + n) * k), n);
    const probs = classifier.probabilities(images, n);
    for (let i = 0; i < n; i++) {
      const cls = argMax(probs, i * classifier.classes, classifier.classes);
      if (probs[i * classifier.classes + cls]! < confidence) continue;
      const list = members.get(cls);
      if (list) list.push(start + i);
      else members.set(cls, [start + i]);
    }
  }
  const usable = [...members].filter(([, list]) => list.length >= MIN_CLASS_CODES).map(([cls]) => cls);
  const triples = chooseTriples(usable, datasetName).filter((t) =>
    [t.a, t.b, t.c].every((cls) => usable.includes(cls)),
  );
  if (triples.length === 0) return null;
  const perClass = opts.perClass ?? DEFAULT_PER_CLASS;
  const gather = (indices: readonly number[]): Float32Array => {
    const out = new Float32Array(indices.length * k);
    indices.forEach((i, r) => out.set(codes.subarray(i * k, (i + 1) * k), r * k));
    return out;
  };
  const { means, meanCounts } = classMeans(triples, k, (cls) => gather(members.get(cls)!.slice(0, perClass)));
  const picks = pickMembers(triples, members, rng);
  const tiles = arithmeticTiles(model, params, triples, means, gather(picks), batchSize);
  return { triples, picks, meanCounts, tiles };
}

/** Codes of test images `indices`, `batchSize` per model call. */
function encodeImages(
  model: Model,
  params: Float32Array,
  test: ImageSet,
  indices: readonly number[],
  batchSize: number,
): Float32Array {
  const k = model.codeSize;
  const codes = new Float32Array(indices.length * k);
  for (let start = 0; start < indices.length; start += batchSize) {
    const batch = indices.slice(start, start + batchSize);
    codes.set(model.encode!(params, gatherBatch(test, batch), batch.length), start * k);
  }
  return codes;
}

/** Background between tiles and around them. */
const BACKGROUND: Rgb = [200, 200, 200];
/** Colour of the −, + and = signs. */
const GLYPH: Rgb = [0, 0, 0];
/** Pixels around the picture and between rows. */
const PAD = 2;

/** Where {@link drawEquations} puts things: tile columns 0..3 with a sign between each pair. */
export interface EquationLayout {
  readonly width: number;
  readonly height: number;
  /** Side of the square signs (odd, 3..9 pixels). */
  readonly glyph: number;
  /** Width of the column holding a sign. */
  readonly gap: number;
  /** Top-left pixel of tile `col` (0..3) of row `row`. */
  tileOrigin(row: number, col: number): [number, number];
}

export function equationLayout(shape: ImageShape, rows: number): EquationLayout {
  const side = Math.min(shape.height, shape.width);
  const glyph = Math.min(9, Math.max(3, 2 * Math.round((side / 4 - 1) / 2) + 1));
  const gap = glyph + 4;
  return {
    width: 2 * PAD + 4 * shape.width + 3 * gap,
    height: PAD + rows * (shape.height + PAD),
    glyph,
    gap,
    tileOrigin: (row, col) => [PAD + col * (shape.width + gap), PAD + row * (shape.height + PAD)],
  };
}

/**
 * Draws `rows` rows of 4 tiles (values as {@link tileImages} takes them, clipped to [0, 1]) as
 * equations: tile − tile + tile = tile.
 */
export function drawEquations(tiles: Float32Array, rows: number, shape: ImageShape): RgbImage {
  const grid = tileImages(tiles, 4 * rows, shape, { columns: 4, separator: 0 });
  const layout = equationLayout(shape, rows);
  const img = new RgbImage(layout.width, layout.height, BACKGROUND);
  const g = layout.glyph;
  const mid = (g - 1) / 2;
  for (let r = 0; r < rows; r++) {
    for (let col = 0; col < 4; col++) {
      const [left, top] = layout.tileOrigin(r, col);
      for (let y = 0; y < shape.height; y++) {
        for (let x = 0; x < shape.width; x++) {
          img.setPixel(left + x, top + y, grid.getPixel(col * shape.width + x, r * shape.height + y));
        }
      }
      if (col === 3) continue;
      // The sign after this tile, centred in the gap and on the row.
      const gx = left + shape.width + (layout.gap - g) / 2;
      const gy = top + Math.floor((shape.height - g) / 2);
      if (col === 2) {
        img.fillRect(gx, gy + mid - 1, g, 1, GLYPH);
        img.fillRect(gx, gy + mid + 1, g, 1, GLYPH);
      } else {
        img.fillRect(gx, gy + mid, g, 1, GLYPH);
        if (col === 1) img.fillRect(gx + mid, gy, 1, g, GLYPH);
      }
    }
  }
  return img;
}

/** The picture of {@link generatedArithmetic}: its rows as equations; null where it does not apply. */
export function generatedArithmeticPicture(
  model: Model,
  params: Float32Array,
  classifier: FeatureClassifier,
  test: ImageSet,
  rng: Rng,
  opts: GeneratedArithmeticOptions = {},
): { file: string; image: RgbImage; description: string } | null {
  const result = generatedArithmetic(model, params, classifier, test.name, rng, opts);
  if (!result) return null;
  const { triples } = result;
  return {
    file: 'latent-arithmetic.png',
    image: drawEquations(result.tiles, triples.length, test.shape),
    description:
      `${triples.length} rows of arithmetic on prior codes, each G(mean code of class A) - G(mean code of class B) ` +
      `+ G(code of class C) = G(mean A - mean B + code C); classes are the project classifier's predictions ` +
      `(probability >= ${opts.confidence ?? 0.9}) on ${opts.pool ?? 5000} generated images; rows A - B + C: ${tripleNames(triples, test.name)}`,
  };
}

/** "9 Ankle boot - 7 Sneaker + 5 Sandal; ..." (class numbers alone outside Fashion-MNIST). */
function tripleNames(triples: readonly ArithmeticTriple[], datasetName: string): string {
  const names = isFashionMnist(datasetName) ? FASHION_MNIST_CLASSES : [];
  const label = (cls: number): string => (names[cls] ? `${cls} ${names[cls]}` : String(cls));
  return triples.map((t) => `${label(t.a)} - ${label(t.b)} + ${label(t.c)}`).join('; ');
}

/** The picture: {@link latentArithmetic}'s rows as equations; null where it does not apply. */
export function latentArithmeticPicture(
  model: Model,
  params: Float32Array,
  test: ImageSet,
  rng: Rng,
  opts: LatentArithmeticOptions = {},
): { file: string; image: RgbImage; description: string } | null {
  const result = latentArithmetic(model, params, test, rng, opts);
  if (!result) return null;
  const { triples } = result;
  const rows = tripleNames(triples, test.name);
  return {
    file: 'latent-arithmetic.png',
    image: drawEquations(result.tiles, triples.length, test.shape),
    description:
      `${triples.length} rows of arithmetic on codes, each decode(mean code of class A) - decode(mean code of class B) ` +
      `+ reconstruction of one test image of class C = decode(mean A - mean B + code C), mean codes over up to ` +
      `${opts.perClass ?? DEFAULT_PER_CLASS} test images per class; rows A - B + C: ${rows}`,
  };
}
