/**
 * 32-bit integers (corpus indices, digests) carried exactly through a float32 all-reduce sum: each
 * as two 16-bit halves, which float32 holds exactly, in slots that only one rank fills (the others
 * leave zeros), so the sum is the value itself.
 */

/** Writes `values` as [high, low] halves from `at`. */
export function putHalves(into: Float32Array, at: number, values: ArrayLike<number>): void {
  for (let i = 0; i < values.length; i++) {
    into[at + 2 * i] = values[i]! >>> 16;
    into[at + 2 * i + 1] = values[i]! & 0xffff;
  }
}

/** The `count` values whose halves start at `at`. */
export function readHalves(from: Float32Array, at: number, count: number): number[] {
  return Array.from({ length: count }, (_, i) => from[at + 2 * i]! * 65536 + from[at + 2 * i + 1]!);
}
