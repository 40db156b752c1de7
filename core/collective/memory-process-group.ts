/**
 * Process groups whose ranks all live in this process, connected in memory. For unit tests of code
 * that takes a ProcessGroup (the trainer, the optimisers): it runs the same ring algorithms as the
 * gRPC groups, with the same deadlines and errors. Closing one rank's group makes the calls of the
 * other ranks that need it fail with COLLECTIVE_LINK naming it, as when a worker leaves a real group.
 */
import { CollectiveError } from './collective-error.js';
import type { ProcessGroup } from './process-group.js';
import type { CallSignature, PendingWait, RingLinks } from './ring-links.js';
import { RingProcessGroup } from './ring-process-group.js';
import { DEFAULT_SEGMENT_BYTES } from './segment-layout.js';
import { SegmentMailbox } from './segment-mailbox.js';

export interface MemoryProcessGroupOptions {
  /** Reported as ProcessGroup.generation; default 0. */
  readonly generation?: number;
  /** Floats per segment; small values exercise multi-segment paths on small buffers. */
  readonly segmentElements?: number;
}

class MemoryRingLinks implements RingLinks {
  readonly mailbox: SegmentMailbox;
  failure: CollectiveError | null = null;
  /** Why the successor reads no more, once it left. */
  private outboundGone: CollectiveError | null = null;
  /** What first made a neighbour leave (see GrpcRingLinks). */
  private rootCause: string | null = null;
  private closed = false;

  constructor(
    private readonly ring: MemoryRingLinks[],
    readonly rank: number,
    readonly worldSize: number,
  ) {
    this.mailbox = new SegmentMailbox(this.prev, this.describe(this.prev));
  }

  private get prev(): number {
    return (this.rank - 1 + this.worldSize) % this.worldSize;
  }

  private get next(): number {
    return (this.rank + 1) % this.worldSize;
  }

  describe(rank: number): string {
    return `rank ${rank} (in memory)`;
  }

  send(call: CallSignature, step: number, index: number, payload: Float32Array): Promise<void> {
    if (this.failure !== null) return Promise.reject(this.failure);
    if (this.outboundGone !== null) return Promise.reject(this.outboundGone);
    this.ring[this.next]!.mailbox.deliver({ ...call, step, index, data: payload.slice() });
    return Promise.resolve();
  }

  receive(call: CallSignature, step: number, index: number, length: number): Promise<Float32Array> {
    return this.mailbox.take(call, step, index, length);
  }

  pendingWait(tag: number): PendingWait | null {
    const w = this.mailbox.waiting(tag);
    return w === null ? null : { peer: this.prev, direction: 'receive', ...w };
  }

  fail(error: CollectiveError): void {
    if (this.failure !== null) return;
    this.failure = error;
    this.mailbox.fail(error);
    // As the gRPC links do: a group failing on a link error tells its neighbours, passing on the
    // original cause.
    if (error.code === 'COLLECTIVE_LINK') {
      const root = this.rootCause ?? error.message;
      const message = `${this.describe(this.rank)} left the group: ${root}`;
      this.leave(new CollectiveError('COLLECTIVE_LINK', message, { peer: error.peer ?? this.rank }), root);
    }
  }

  close(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      const message = `${this.describe(this.rank)} closed its group`;
      this.leave(new CollectiveError('COLLECTIVE_LINK', message, { peer: this.rank }), message);
    }
    return Promise.resolve();
  }

  /**
   * Tells both neighbours this rank is gone: the successor keeps what was already delivered (its
   * current call may still complete) but waits for nothing more; the predecessor's sends fail.
   */
  private leave(error: CollectiveError, root: string): void {
    if (this.worldSize === 1) return;
    const next = this.ring[this.next]!;
    next.mailbox.end(error);
    next.rootCause ??= root;
    const prev = this.ring[this.prev]!;
    prev.outboundGone ??= error;
    prev.rootCause ??= root;
  }
}

/** Creates `worldSize` connected groups; element i is rank i's. */
export function createMemoryProcessGroups(
  worldSize: number,
  options: MemoryProcessGroupOptions = {},
): ProcessGroup[] {
  if (!Number.isInteger(worldSize) || worldSize < 1) {
    throw new CollectiveError('COLLECTIVE_MISMATCH', `worldSize ${worldSize} is not a positive integer`, {
      rebuild: false,
    });
  }
  const segmentElements = options.segmentElements ?? DEFAULT_SEGMENT_BYTES / 4;
  const ring: MemoryRingLinks[] = [];
  for (let rank = 0; rank < worldSize; rank++) ring.push(new MemoryRingLinks(ring, rank, worldSize));
  return ring.map(
    (links) => new RingProcessGroup(links, { generation: options.generation ?? 0, segmentElements }),
  );
}
