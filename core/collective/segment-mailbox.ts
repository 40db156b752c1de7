/**
 * Segments received from one peer, queued per call tag until the local call takes them. Segments of
 * different calls may interleave on a link (calls with different tags can be in flight together),
 * but within one tag they arrive in the order the peer sent them, which is the order the local call
 * asks for them; anything else is a COLLECTIVE_MISMATCH.
 */
import { CollectiveError } from './collective-error.js';
import type { CallSignature, IncomingSegment } from './ring-links.js';

interface Waiter {
  readonly call: CallSignature;
  readonly step: number;
  readonly index: number;
  readonly length: number;
  readonly resolve: (data: Float32Array) => void;
  readonly reject: (error: CollectiveError) => void;
}

function describeCall(c: CallSignature): string {
  if (c.kind === 'allreduce') {
    const wire = c.wire === 'float32' ? '' : ` as ${c.wire}`;
    const layout = c.interleave === 0 ? '' : `, interleaved by ${c.interleave}`;
    return `allreduce(${c.op}, ${c.length} floats${wire}${layout})`;
  }
  if (c.kind === 'broadcast') return `broadcast(root ${c.root}, ${c.length} floats)`;
  return 'barrier';
}

export class SegmentMailbox {
  /** Segments that arrived before the local call asked for them; a queue per tag. */
  private readonly queued = new Map<number, IncomingSegment[]>();
  private readonly waiters = new Map<number, Waiter>();
  private failure: CollectiveError | null = null;
  /** Why the peer sends no more, once it said so (or its link broke). */
  private ended: CollectiveError | null = null;

  /**
   * @param peer the sending rank
   * @param peerName how messages name it, e.g. "rank 2 (10.0.0.7:7070)"
   */
  constructor(
    private readonly peer: number,
    private readonly peerName: string,
  ) {}

  deliver(segment: IncomingSegment): void {
    if (this.failure !== null || this.ended !== null) return;
    const waiter = this.waiters.get(segment.tag);
    if (waiter !== undefined) {
      this.waiters.delete(segment.tag);
      this.settle(waiter, segment);
      return;
    }
    const queue = this.queued.get(segment.tag);
    if (queue === undefined) this.queued.set(segment.tag, [segment]);
    else queue.push(segment);
  }

  /** The next segment of `call.tag`, checked to be (step, index) of `call` with `length` floats. */
  take(call: CallSignature, step: number, index: number, length: number): Promise<Float32Array> {
    if (this.failure !== null) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      const waiter: Waiter = { call, step, index, length, resolve, reject };
      const queue = this.queued.get(call.tag);
      const segment = queue?.shift();
      if (segment === undefined) {
        if (this.ended !== null) {
          reject(this.ended);
          return;
        }
        // The algorithm of one call is sequential: it never waits on two segments of a tag at once.
        this.waiters.set(call.tag, waiter);
        return;
      }
      if (queue!.length === 0) this.queued.delete(call.tag);
      this.settle(waiter, segment);
    });
  }

  /** Where call `tag` waits, if it does. */
  waiting(tag: number): { step: number; index: number } | null {
    const w = this.waiters.get(tag);
    return w === undefined ? null : { step: w.step, index: w.index };
  }

  /**
   * The peer will send nothing more: what it sent before still counts (a peer that finished its
   * last call and left must not fail ours), but a take that would wait rejects with `error`.
   */
  end(error: CollectiveError): void {
    if (this.failure !== null || this.ended !== null) return;
    this.ended = error;
    this.rejectWaiters(error);
  }

  /** Rejects the pending and later takes with `error` and drops what was queued. */
  fail(error: CollectiveError): void {
    if (this.failure !== null) return;
    this.failure = error;
    this.queued.clear();
    this.rejectWaiters(error);
  }

  private rejectWaiters(error: CollectiveError): void {
    const waiters = [...this.waiters.values()];
    this.waiters.clear();
    for (const w of waiters) w.reject(error);
  }

  private settle(w: Waiter, s: IncomingSegment): void {
    const c = w.call;
    const same =
      s.kind === c.kind &&
      s.op === c.op &&
      s.root === c.root &&
      s.length === c.length &&
      s.wire === c.wire &&
      s.interleave === c.interleave &&
      s.step === w.step &&
      s.index === w.index &&
      s.data.length === w.length;
    if (same) {
      w.resolve(s.data);
      return;
    }
    w.reject(
      new CollectiveError(
        'COLLECTIVE_MISMATCH',
        `${this.peerName} sent ${describeCall(s)} step ${s.step} segment ${s.index} ` +
          `(${s.data.length} floats) where this rank expected ${describeCall(c)} step ${w.step} ` +
          `segment ${w.index} (${w.length} floats)`,
        { peer: this.peer, rebuild: true },
      ),
    );
  }
}
