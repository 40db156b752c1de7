/**
 * How the ring algorithms cut a span of floats into segments, the unit a link carries. Sender and
 * receiver derive the same layout from the call's length alone.
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
