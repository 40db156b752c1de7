/**
 * Converts a decoded RGBA image to the corpus geometry: grey (luma) or RGB, at a fixed height x
 * width, by area averaging.
 */
import type { ImageShape } from './corpus.js';
import type { RgbaImage } from './image-decode.js';

/** ITU-R BT.601 luma weights, the usual RGB -> grey conversion. */
const LUMA_R = 0.299;
const LUMA_G = 0.587;
const LUMA_B = 0.114;

/** For each output index, the source indices it covers and their weights (summing to 1). */
interface AxisWeights {
  readonly start: Int32Array;
  readonly weights: Float64Array[];
}

/**
 * Area-averaging weights mapping `src` samples onto `dst`: output i covers the source interval
 * [i * src/dst, (i+1) * src/dst) and each source sample is weighted by how much of it lies inside.
 * Downscaling averages whole blocks; upscaling repeats pixels, blending only where an output
 * pixel straddles two source pixels; equal sizes copy exactly.
 */
function axisWeights(src: number, dst: number): AxisWeights {
  const scale = src / dst;
  const start = new Int32Array(dst);
  const weights: Float64Array[] = [];
  for (let i = 0; i < dst; i++) {
    const lo = i * scale;
    const hi = (i + 1) * scale;
    const j0 = Math.floor(lo);
    const j1 = Math.min(src, Math.ceil(hi));
    const w = new Float64Array(j1 - j0);
    for (let j = j0; j < j1; j++) w[j - j0] = (Math.min(hi, j + 1) - Math.max(lo, j)) / scale;
    start[i] = j0;
    weights.push(w);
  }
  return { start, weights };
}

/**
 * Writes `img` converted to `shape` into `out` at `offset` (height * width * channels bytes).
 * Channels 1 takes luma 0.299 R + 0.587 G + 0.114 B, channels 3 takes R, G, B; alpha is ignored
 * (not composited). Resizing is separable area averaging (see axisWeights), done in floating
 * point and rounded once at the end, so an image already at the target size is copied exactly.
 */
export function resizeInto(img: RgbaImage, shape: ImageShape, out: Uint8Array, offset: number): void {
  const { width: sw, height: sh, rgba } = img;
  const { width: dw, height: dh, channels: c } = shape;
  if (c !== 1 && c !== 3) throw new RangeError(`channels must be 1 or 3, got ${c}`);
  if (sw === dw && sh === dh) {
    // Same size (every shard sample): convert channels only; the weights would all be 1.
    for (let p = 0; p < sw * sh; p++) {
      const s = p * 4;
      if (c === 1) {
        out[offset + p] = Math.round(LUMA_R * rgba[s]! + LUMA_G * rgba[s + 1]! + LUMA_B * rgba[s + 2]!);
      } else {
        out[offset + p * 3] = rgba[s]!;
        out[offset + p * 3 + 1] = rgba[s + 1]!;
        out[offset + p * 3 + 2] = rgba[s + 2]!;
      }
    }
    return;
  }
  const wx = axisWeights(sw, dw);
  const wy = axisWeights(sh, dh);
  // Horizontal pass over every source row, converting channels on the way: sh x dw x c.
  const rows = new Float64Array(sh * dw * c);
  const line = new Float64Array(sw * c);
  for (let y = 0; y < sh; y++) {
    const src = y * sw * 4;
    for (let x = 0; x < sw; x++) {
      const p = src + x * 4;
      if (c === 1) {
        line[x] = LUMA_R * rgba[p]! + LUMA_G * rgba[p + 1]! + LUMA_B * rgba[p + 2]!;
      } else {
        line[x * 3] = rgba[p]!;
        line[x * 3 + 1] = rgba[p + 1]!;
        line[x * 3 + 2] = rgba[p + 2]!;
      }
    }
    for (let x = 0; x < dw; x++) {
      const j0 = wx.start[x]!;
      const w = wx.weights[x]!;
      for (let k = 0; k < c; k++) {
        let s = 0;
        for (let j = 0; j < w.length; j++) s += w[j]! * line[(j0 + j) * c + k]!;
        rows[(y * dw + x) * c + k] = s;
      }
    }
  }
  // Vertical pass.
  const rowLen = dw * c;
  for (let y = 0; y < dh; y++) {
    const j0 = wy.start[y]!;
    const w = wy.weights[y]!;
    const dst = offset + y * rowLen;
    for (let i = 0; i < rowLen; i++) {
      let s = 0;
      for (let j = 0; j < w.length; j++) s += w[j]! * rows[(j0 + j) * rowLen + i]!;
      out[dst + i] = Math.min(255, Math.max(0, Math.round(s)));
    }
  }
}
