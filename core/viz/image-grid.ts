/** Tiling many small images (inputs, reconstructions, samples, filters) into one picture. */
import type { ImageShape } from '../data/corpus.js';
import { pixelsPerImage } from '../data/corpus.js';
import type { Rgb } from './png-image.js';
import { RgbImage } from './png-image.js';

/** How {@link tileImages} lays out and scales the tiles. */
export interface GridOptions {
  /** Tiles per row. */
  readonly columns: number;
  /** Pixels of separator between tiles and around the edge. Default 1. */
  readonly separator?: number;
  /** Separator colour (also fills empty slots). Default mid grey. */
  readonly separatorColour?: Rgb;
  /**
   * `clip`: values are intensities in [0, 1], clipped (images). `per-tile`: each tile's own
   * min..max is stretched to 0..1, for weights whose scale means nothing (filters). Default `clip`.
   */
  readonly normalise?: 'clip' | 'per-tile';
  /** Integer upscaling of every tile pixel. Default 1. */
  readonly scale?: number;
}

/**
 * Tiles `count` images of `shape` (values row-major height x width x channels, one image after the
 * other; 1 channel is drawn grey, 3 as RGB) into a grid, filled row by row.
 */
export function tileImages(
  images: Float32Array,
  count: number,
  shape: ImageShape,
  opts: GridOptions,
): RgbImage {
  const d = pixelsPerImage(shape);
  if (images.length < count * d)
    throw new RangeError(`${count} tiles need ${count * d} values, got ${images.length}`);
  if (shape.channels !== 1 && shape.channels !== 3)
    throw new RangeError(`cannot draw ${shape.channels} channels`);
  const columns = Math.max(1, Math.min(opts.columns, Math.max(count, 1)));
  const rows = Math.max(1, Math.ceil(count / columns));
  const sep = opts.separator ?? 1;
  const scale = opts.scale ?? 1;
  const tileW = shape.width * scale;
  const tileH = shape.height * scale;
  const img = new RgbImage(
    columns * tileW + (columns + 1) * sep,
    rows * tileH + (rows + 1) * sep,
    opts.separatorColour ?? [128, 128, 128],
  );
  const rgb: [number, number, number] = [0, 0, 0];
  for (let t = 0; t < count; t++) {
    const base = t * d;
    let lo = 0;
    let span = 1;
    if (opts.normalise === 'per-tile') {
      let min = Infinity;
      let max = -Infinity;
      for (let i = 0; i < d; i++) {
        min = Math.min(min, images[base + i]!);
        max = Math.max(max, images[base + i]!);
      }
      // A constant tile has no contrast to show: draw it mid grey.
      lo = max > min ? min : min - 0.5;
      span = max > min ? max - min : 1;
    }
    const left = sep + (t % columns) * (tileW + sep);
    const top = sep + Math.floor(t / columns) * (tileH + sep);
    for (let y = 0; y < shape.height; y++) {
      for (let x = 0; x < shape.width; x++) {
        const p = base + (y * shape.width + x) * shape.channels;
        for (let c = 0; c < 3; c++) {
          const v = (images[p + (shape.channels === 3 ? c : 0)]! - lo) / span;
          rgb[c] = Math.round(255 * Math.min(1, Math.max(0, Number.isNaN(v) ? 0 : v)));
        }
        img.fillRect(left + x * scale, top + y * scale, scale, scale, rgb);
      }
    }
  }
  return img;
}
