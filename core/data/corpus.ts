/** Shapes and containers shared by every corpus reader. */

/** Image geometry; pixels are stored row-major as height x width x channels. */
export interface ImageShape {
  readonly height: number;
  readonly width: number;
  /** 1 (grey) or 3 (RGB). */
  readonly channels: number;
}

export function pixelsPerImage(shape: ImageShape): number {
  return shape.height * shape.width * shape.channels;
}

/**
 * A corpus held in memory as bytes (0..255), one image after the other. Labels, when the source
 * has them, are kept apart and only evaluation reads them: training never sees `labels`.
 */
export interface ImageSet {
  /** Where it came from, for messages and summary.json (e.g. "fashion-mnist/train"). */
  readonly name: string;
  readonly shape: ImageShape;
  readonly count: number;
  /** count * pixelsPerImage(shape) bytes. */
  readonly pixels: Uint8Array;
  /** One class index per image, or null when the source has no labels. */
  readonly labels: Uint8Array | null;
}

/** Copies images `indices` of `set` into `out` as float32 in [0, 1] (row per image). */
export function gatherBatch(
  set: ImageSet,
  indices: ArrayLike<number>,
  out: Float32Array = new Float32Array(indices.length * pixelsPerImage(set.shape)),
): Float32Array {
  const d = pixelsPerImage(set.shape);
  const px = set.pixels;
  for (let r = 0; r < indices.length; r++) {
    const src = indices[r]! * d;
    const dst = r * d;
    for (let j = 0; j < d; j++) out[dst + j] = px[src + j]! / 255;
  }
  return out;
}

/** The first `n` images of a set (the `--limit` flag). */
export function limitSet(set: ImageSet, n: number): ImageSet {
  if (n >= set.count) return set;
  const d = pixelsPerImage(set.shape);
  return {
    name: set.name,
    shape: set.shape,
    count: n,
    pixels: set.pixels.subarray(0, n * d),
    labels: set.labels ? set.labels.subarray(0, n) : null,
  };
}
