/**
 * What the ring algorithms need from a transport: an ordered stream of segments to the next rank
 * and one from the previous rank. The gRPC links and the in-memory links both implement it, so the
 * same algorithm code runs over either.
 */
import type { CollectiveError } from './collective-error.js';
import type { ReduceOp } from './process-group.js';
import type { WireDtype } from './wire-dtype.js';

export type CallKind = 'allreduce' | 'broadcast' | 'barrier';

/** Describes one collective call; every rank's segments of that call carry the same signature. */
export interface CallSignature {
  readonly tag: number;
  readonly kind: CallKind;
  /** The reduction (allreduce only, else null). */
  readonly op: ReduceOp | null;
  /** The source rank (broadcast only, else 0). */
  readonly root: number;
  /** Float32 elements in the call's whole buffer. */
  readonly length: number;
  /** How the call's floats travel (allreduce only, else float32). */
  readonly wire: WireDtype;
  /** Floats per block of the interleaved layout (allreduce only); 0 for contiguous chunks. */
  readonly interleave: number;
}

/** One segment as it arrives from the previous rank. */
export interface IncomingSegment extends CallSignature {
  readonly step: number;
  readonly index: number;
  readonly data: Float32Array;
}

/** What a pending call is blocked on, for the message of a timeout. */
export interface PendingWait {
  readonly peer: number;
  readonly direction: 'send' | 'receive';
  readonly step: number;
  readonly index: number;
}

/** The two neighbour links of one rank in a ring of `worldSize` ranks. */
export interface RingLinks {
  readonly rank: number;
  readonly worldSize: number;
  /** The failure that made the links unusable, or null while they work. */
  readonly failure: CollectiveError | null;
  /** Names a rank for error messages, e.g. "rank 2 (10.0.0.7:7070)". */
  describe(rank: number): string;
  /**
   * Queues a segment for the next rank. The payload is copied before this returns, so the caller
   * may overwrite it at once, except when it is an array receive() returned: the transport may
   * then send its bytes as they are, and the caller must leave it alone. On a 16-bit wire the
   * payload's values are already ones the wire carries (roundToWire). Resolves when the
   * transport can take more (backpressure); rejects with the links' failure.
   */
  send(call: CallSignature, step: number, index: number, payload: Float32Array): Promise<void>;
  /**
   * The next segment of call `call.tag` from the previous rank, which must be (step, index) of the
   * same signature with `length` elements, else the promise rejects with COLLECTIVE_MISMATCH. The
   * array is the caller's: it may change it, or send it on.
   */
  receive(call: CallSignature, step: number, index: number, length: number): Promise<Float32Array>;
  /** What call `tag` is waiting on, or null when it waits on nothing. */
  pendingWait(tag: number): PendingWait | null;
  /** Makes the links unusable: pending and later sends and receives reject with `error`. */
  fail(error: CollectiveError): void;
  /** Leaves the ring: tells the neighbours, then releases sockets and timers. Idempotent. */
  close(): Promise<void>;
}
