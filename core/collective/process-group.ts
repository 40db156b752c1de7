/**
 * The collectives a data-parallel job needs, over whatever transport carries them. Every rank of a
 * group calls the same operations in the same order with the same tags; each call carries a
 * deadline, and returns or throws a {@link CollectiveError} that names the peer at fault. Buffers are
 * plain Float32Arrays: this layer never sees tensors.
 */
import type { WireDtype } from './wire-dtype.js';

export type ReduceOp = 'sum' | 'avg' | 'max' | 'min';

/** Per-call options, identical on every rank. */
export interface CollectiveOptions {
  /**
   * Identifies the call: every rank passes the same tag for the same call, and no two calls of one
   * group that may be in flight together share a tag (e.g. step * 8 + a per-purpose code).
   */
  readonly tag: number;
  /** Milliseconds the whole call may take before it fails with COLLECTIVE_TIMEOUT on this rank. */
  readonly timeoutMs: number;
  /**
   * How an allreduce's floats travel (default float32). A 16-bit wire halves the bytes; sums stay
   * float32, the result is rounded to the wire dtype, and every rank still ends bit-identical.
   */
  readonly wire?: WireDtype;
  /**
   * Floats per block of an interleaved layout (allreduce only). Block j of the call's buffer
   * (elements [j * G, (j + 1) * G), the last one possibly shorter) belongs to ring chunk
   * j mod worldSize. A sub-range of a buffer that starts at a multiple of G * worldSize is then
   * reduced bit for bit as within the whole buffer (the same ranks add in the same order), on any
   * wire dtype, so a buffer may be reduced in buckets. Absent or 0: contiguous chunks, best for a
   * buffer reduced once.
   */
  readonly interleave?: number;
}

/** One generation of a group of ranks: membership is fixed for its lifetime. */
export interface ProcessGroup {
  /** This process's rank, 0 to worldSize - 1. */
  readonly rank: number;
  readonly worldSize: number;
  /** The rendezvous generation this group belongs to; a re-formed group gets a higher one. */
  readonly generation: number;
  /**
   * Reduces `data` element-wise across all ranks in place; `avg` divides the sum by worldSize.
   * Every rank ends with bit-identical values (the same reduction order on every rank). With one
   * rank `data` is left as it is, whatever `opts.wire`.
   */
  allreduce(data: Float32Array, op: ReduceOp, opts: CollectiveOptions): Promise<void>;
  /** Copies `root`'s `data` into every other rank's `data` (same length on every rank). */
  broadcast(data: Float32Array, root: number, opts: CollectiveOptions): Promise<void>;
  /** Returns once every rank has entered the barrier with this tag. */
  barrier(opts: CollectiveOptions): Promise<void>;
  /** Closes the links; pending and later calls fail with COLLECTIVE_CLOSED. */
  close(): Promise<void>;
}
