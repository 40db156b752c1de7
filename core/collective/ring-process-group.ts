/**
 * A ProcessGroup running the ring algorithms over any RingLinks (gRPC or in-memory). It owns what
 * every transport shares: argument checks, the per-call deadline, and the rule that a failed call
 * leaves the whole group unusable (the links keep partial segments of the failed call, so the
 * group must be re-formed).
 */
import { CollectiveError, type CollectiveErrorCode } from './collective-error.js';
import type { CollectiveOptions, ProcessGroup, ReduceOp } from './process-group.js';
import { ringAllreduce } from './ring-allreduce.js';
import { ringBroadcast } from './ring-broadcast.js';
import type { CallSignature, RingLinks } from './ring-links.js';
import { WIRE_DTYPES } from './wire-dtype.js';

const REDUCE_OPS: ReadonlySet<string> = new Set<ReduceOp>(['sum', 'avg', 'max', 'min']);
const EMPTY = new Float32Array(0);

export interface RingProcessGroupOptions {
  readonly generation: number;
  /** Floats per segment on the links. */
  readonly segmentElements: number;
}

function describe(call: CallSignature): string {
  return `${call.kind} (tag ${call.tag})`;
}

function argumentError(message: string): CollectiveError {
  return new CollectiveError('COLLECTIVE_MISMATCH', message, { rebuild: false });
}

export class RingProcessGroup implements ProcessGroup {
  readonly rank: number;
  readonly worldSize: number;
  readonly generation: number;
  private readonly segmentElements: number;
  private readonly inFlight = new Set<number>();
  private closing: Promise<void> | null = null;

  constructor(
    private readonly links: RingLinks,
    options: RingProcessGroupOptions,
  ) {
    this.rank = links.rank;
    this.worldSize = links.worldSize;
    this.generation = options.generation;
    this.segmentElements = options.segmentElements;
  }

  allreduce(data: Float32Array, op: ReduceOp, opts: CollectiveOptions): Promise<void> {
    if (!(data instanceof Float32Array))
      return Promise.reject(argumentError('allreduce: data must be a Float32Array'));
    if (!REDUCE_OPS.has(op)) return Promise.reject(argumentError(`allreduce: unknown op ${String(op)}`));
    const wire = opts.wire ?? 'float32';
    if (!WIRE_DTYPES.includes(wire))
      return Promise.reject(argumentError(`allreduce: unknown wire dtype ${String(wire)}`));
    const interleave = opts.interleave ?? 0;
    if (!Number.isSafeInteger(interleave) || interleave < 0) {
      return Promise.reject(
        argumentError(`allreduce: interleave ${String(interleave)} is not a non-negative integer`),
      );
    }
    const call: CallSignature = {
      tag: opts.tag,
      kind: 'allreduce',
      op,
      root: 0,
      length: data.length,
      wire,
      interleave,
    };
    return this.run(call, opts, () => ringAllreduce(this.links, call, data, op, this.segmentElements));
  }

  broadcast(data: Float32Array, root: number, opts: CollectiveOptions): Promise<void> {
    if (!(data instanceof Float32Array))
      return Promise.reject(argumentError('broadcast: data must be a Float32Array'));
    if (!Number.isInteger(root) || root < 0 || root >= this.worldSize) {
      return Promise.reject(
        argumentError(`broadcast: root ${root} is not a rank of a group of ${this.worldSize}`),
      );
    }
    const call: CallSignature = {
      tag: opts.tag,
      kind: 'broadcast',
      op: null,
      root,
      length: data.length,
      wire: 'float32',
      interleave: 0,
    };
    return this.run(call, opts, () => ringBroadcast(this.links, call, data, this.segmentElements));
  }

  barrier(opts: CollectiveOptions): Promise<void> {
    const call: CallSignature = {
      tag: opts.tag,
      kind: 'barrier',
      op: null,
      root: 0,
      length: 0,
      wire: 'float32',
      interleave: 0,
    };
    // An empty ring allreduce: each rank's last receive depends on every rank having sent its first
    // message, i.e. on every rank having entered the barrier.
    return this.run(call, opts, () => ringAllreduce(this.links, call, EMPTY, 'sum', this.segmentElements));
  }

  close(): Promise<void> {
    if (this.closing === null) {
      this.links.fail(
        new CollectiveError('COLLECTIVE_CLOSED', `group (generation ${this.generation}) closed`),
      );
      this.closing = this.links.close();
    }
    return this.closing;
  }

  private async run(call: CallSignature, opts: CollectiveOptions, body: () => Promise<void>): Promise<void> {
    const what = `${describe(call)} on rank ${this.rank}`;
    if (!Number.isSafeInteger(call.tag) || call.tag < 0) {
      throw argumentError(`${call.kind}: tag ${call.tag} is not a non-negative integer`);
    }
    if (!(opts.timeoutMs > 0) || !Number.isFinite(opts.timeoutMs)) {
      throw argumentError(`${what}: timeoutMs ${opts.timeoutMs} is not a positive number`);
    }
    if (this.closing !== null) {
      throw new CollectiveError(
        'COLLECTIVE_CLOSED',
        `${what}: group (generation ${this.generation}) is closed`,
      );
    }
    const failure = this.links.failure;
    if (failure !== null) throw this.wrap(what, failure);
    if (this.inFlight.has(call.tag))
      throw argumentError(`${what}: a call with this tag is already in flight`);

    this.inFlight.add(call.tag);
    let timer: NodeJS.Timeout | undefined;
    let timeoutError: CollectiveError | null = null;
    // The race makes the deadline hold even if some await in the body were not woken by fail().
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        timeoutError = this.timeoutError(what, call.tag, opts.timeoutMs);
        this.links.fail(timeoutError);
        reject(timeoutError);
      }, opts.timeoutMs);
    });
    try {
      await Promise.race([body(), deadline]);
    } catch (e) {
      if (e === timeoutError) throw e;
      const error = e instanceof CollectiveError ? this.wrap(what, e) : this.internalError(what, e);
      if (error.rebuild) this.links.fail(error);
      throw error;
    } finally {
      clearTimeout(timer);
      this.inFlight.delete(call.tag);
    }
  }

  private timeoutError(what: string, tag: number, timeoutMs: number): CollectiveError {
    const wait = this.links.pendingWait(tag);
    if (wait === null) {
      return new CollectiveError('COLLECTIVE_TIMEOUT', `${what} did not complete within ${timeoutMs} ms`);
    }
    const verb = wait.direction === 'receive' ? 'receive from' : 'send to';
    return new CollectiveError(
      'COLLECTIVE_TIMEOUT',
      `${what} timed out after ${timeoutMs} ms waiting to ${verb} ${this.links.describe(wait.peer)} ` +
        `(step ${wait.step}, segment ${wait.index})`,
      { peer: wait.peer },
    );
  }

  /** The same failure, said from this call's point of view. */
  private wrap(what: string, e: CollectiveError): CollectiveError {
    return new CollectiveError(e.code as CollectiveErrorCode, `${what}: ${e.message}`, {
      peer: e.peer,
      rebuild: e.rebuild,
      cause: e,
    });
  }

  private internalError(what: string, e: unknown): CollectiveError {
    const detail = e instanceof Error ? e.message : String(e);
    return new CollectiveError('COLLECTIVE_LINK', `${what} failed inside the transport: ${detail}`, {
      cause: e,
    });
  }
}
