/**
 * Ring allreduce (reduce-scatter, then all-gather), as in gloo's allreduce_ring and NCCL.
 *
 * The buffer is cut into worldSize chunks and each chunk into segments. In step t (0 to 2n-3) rank
 * r sends chunk (r - t) mod n to rank r + 1 and receives chunk (r - t - 1) mod n from rank r - 1:
 * during the first n - 1 steps it adds its own values to what it receives, so after step n - 2 it
 * holds the complete reduction of chunk r + 1; during the last n - 1 steps it copies the completed
 * chunks it receives. Partial sums travel in the received arrays, and a rank writes a chunk into
 * its buffer only once it is complete. A segment is sent on as soon as it has been reduced, so
 * sending, receiving and reducing overlap. Each chunk is reduced in one fixed order and then copied
 * everywhere, so every rank ends with bit-identical values. Each rank sends 2(n-1)/n of the buffer.
 *
 * Chunks are contiguous, or with call.interleave G > 0 made of G-float blocks dealt round-robin
 * (block j to chunk j mod n, see chunkSegments), so that which ranks add an element, and in which
 * order, depends only on its block index: a sub-range starting at a multiple of G * n is reduced
 * bit for bit as within the whole buffer, which lets a caller reduce a buffer in buckets.
 *
 * With a 16-bit wire (call.wire) every array is rounded to it just before it is sent, and the
 * completed chunk before it is kept too: sums are float32, what travels is exactly what was
 * rounded, and the rank that completes a chunk keeps the very values the others receive.
 */
import type { ReduceOp } from './process-group.js';
import { reduceInto } from './reduce-ops.js';
import type { CallSignature, RingLinks } from './ring-links.js';
import { chunkSegments } from './segment-layout.js';
import { roundToWire } from './wire-dtype.js';

/** Reduces `data` across the ring in place. Every rank passes the same signature and length. */
export async function ringAllreduce(
  links: RingLinks,
  call: CallSignature,
  data: Float32Array,
  op: ReduceOp,
  segmentElements: number,
): Promise<void> {
  const n = links.worldSize;
  if (n === 1) return;
  const r = links.rank;
  const lastStep = 2 * (n - 1) - 1;
  const wire = call.wire;
  // Each chunk's segments, computed once per call: a chunk comes round in more than one step.
  const layouts: (Float64Array | undefined)[] = new Array<Float64Array | undefined>(n);
  const segmentsOf = (c: number): Float64Array =>
    (layouts[c] ??= chunkSegments(data.length, n, c, segmentElements, call.interleave));

  // Step 0 sends this rank's own chunk; every later send forwards what was just received.
  const own = segmentsOf(r);
  for (let k = 0; k < own.length / 2; k++) {
    const segment = data.subarray(own[2 * k]!, own[2 * k + 1]!);
    // This rank's own chunk is overwritten by the all-gather, so rounding it in place loses nothing.
    roundToWire(segment, wire);
    await links.send(call, 0, k, segment);
  }

  for (let t = 0; t <= lastStep; t++) {
    const segments = segmentsOf((((r - t - 1) % n) + n) % n);
    const reducing = t < n - 1;
    const divisor = op === 'avg' && t === n - 2 ? n : null;
    for (let k = 0; k < segments.length / 2; k++) {
      const lo = segments[2 * k]!;
      const hi = segments[2 * k + 1]!;
      // The received array is reduced in place and sent on as it is, which spares the transport a
      // copy; the chunk goes into this rank's buffer once it is complete (t >= n - 2).
      const incoming = await links.receive(call, t, k, hi - lo);
      if (reducing) {
        reduceInto(incoming, data.subarray(lo, hi), op, divisor);
        roundToWire(incoming, wire);
      }
      if (t >= n - 2) data.set(incoming, lo);
      if (t < lastStep) await links.send(call, t + 1, k, incoming);
    }
  }
}
