/** Walking an ImageSet in fixed-size float batches, shared by the evaluation passes. */
import type { ImageSet } from '../data/corpus.js';
import { gatherBatch, pixelsPerImage } from '../data/corpus.js';

/** [start, start + n) as indices for gatherBatch. */
export function rangeIndices(start: number, n: number): Int32Array {
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) out[i] = start + i;
  return out;
}

/**
 * Calls `fn` on consecutive batches of the first `count` images of `set` (default all) as float32 in
 * [0, 1]; the last batch may be short. The batch buffer is reused, so `fn` must not keep it.
 */
export function forEachBatch(
  set: ImageSet,
  batchSize: number,
  fn: (batch: Float32Array, rows: number, start: number) => void,
  count = set.count,
): void {
  const d = pixelsPerImage(set.shape);
  const n = Math.min(count, set.count);
  const size = Math.max(1, Math.min(batchSize, n));
  const buf = new Float32Array(size * d);
  for (let start = 0; start < n; start += size) {
    const rows = Math.min(size, n - start);
    const batch = rows === size ? buf : buf.subarray(0, rows * d);
    gatherBatch(set, rangeIndices(start, rows), batch);
    fn(batch, rows, start);
  }
}
