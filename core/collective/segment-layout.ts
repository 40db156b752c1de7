/**
 * How the ring algorithms cut a span of floats into segments, the unit a link carries, and an
 * allreduce's buffer into chunks. Sender and receiver derive the same layout from the call alone.
 */

/** Default segment: 1 MiB of float32, well under gRPC's 4 MiB default message limit. */
export const DEFAULT_SEGMENT_BYTES = 1 << 20;

/** Largest segment a link accepts; the gRPC message limits are set just above it. */
export const MAX_SEGMENT_BYTES = 4 << 20;

/**
 * Segments of a span of `length` floats: at least one, so that an empty span still sends a
 * message and every step of the algorithm keeps its ordering (a barrier relies on it).
 */
export function segmentCount(length: number, segmentElements: number): number {
  return Math.max(1, Math.ceil(length / segmentElements));
}

/** Writes the segments of [lo, hi) into `bounds` from segment `at` on; returns the next one. */
function cut(bounds: Float64Array, at: number, lo: number, hi: number, segmentElements: number): number {
  const count = segmentCount(hi - lo, segmentElements);
  for (let k = 0; k < count; k++, at++) {
    const start = lo + k * segmentElements;
    bounds[2 * at] = start;
    bounds[2 * at + 1] = Math.min(hi, start + segmentElements);
  }
  return at;
}

/**
 * The segments of ring chunk `chunk` of a call of `length` floats on `worldSize` ranks, in the
 * order they travel, as flat [lo, hi) bounds in the call's buffer: segment k is
 * [bounds[2k], bounds[2k + 1]). There is always at least one, possibly empty, segment.
 *
 * With `interleave` 0 the chunk is the contiguous range [floor(c L / n), floor((c + 1) L / n)),
 * whose position depends on the call's length. With `interleave` G > 0 the buffer is cut into
 * blocks of G floats (the last one possibly shorter) and the chunk is blocks c, c + n, c + 2n, ...
 * each cut into its own segments: an element's chunk, hence which ranks add it in which order,
 * then depends only on its block index mod n.
 */
export function chunkSegments(
  length: number,
  worldSize: number,
  chunk: number,
  segmentElements: number,
  interleave: number,
): Float64Array {
  if (interleave === 0) {
    const lo = Math.floor((chunk * length) / worldSize);
    const hi = Math.floor(((chunk + 1) * length) / worldSize);
    const bounds = new Float64Array(2 * segmentCount(hi - lo, segmentElements));
    cut(bounds, 0, lo, hi, segmentElements);
    return bounds;
  }
  const blocks = Math.ceil(length / interleave);
  const mine = blocks > chunk ? Math.floor((blocks - 1 - chunk) / worldSize) + 1 : 0;
  if (mine === 0) return Float64Array.of(length, length);
  // Every block of the chunk is whole but the buffer's last one, which may be shorter.
  const lastLo = (chunk + (mine - 1) * worldSize) * interleave;
  const count =
    (mine - 1) * Math.ceil(interleave / segmentElements) +
    segmentCount(Math.min(length, lastLo + interleave) - lastLo, segmentElements);
  const bounds = new Float64Array(2 * count);
  let at = 0;
  for (let j = 0, lo = chunk * interleave; j < mine; j++, lo += worldSize * interleave) {
    at = cut(bounds, at, lo, Math.min(length, lo + interleave), segmentElements);
  }
  return bounds;
}
