/**
 * The step's gradient all-reduce in buckets (`--bucket-mb`), as DDP does it: each bucket's
 * all-reduce starts as soon as the backward pass has made every gradient in it final, and runs
 * while the layers below compute theirs. All buckets use the ring's interleaved layout with one
 * block size, and every bucket starts at a multiple of block * worldSize, so each element is added
 * by the same ranks in the same order as in a single all-reduce of the whole buffer: bucketed and
 * unbucketed steps give bit-identical parameters.
 */
import type { ProcessGroup } from '../collective/process-group.js';
import type { WireDtype } from '../collective/wire-dtype.js';

/** Largest interleave block: the ring's default segment (1 MiB of float32), one message per block. */
const MAX_BLOCK = 1 << 18;
/** Smallest block: below it a block's message costs more in overhead than it carries. */
const MIN_BLOCK = 1 << 10;

/** How a buffer of gradients is cut into buckets. */
export interface BucketPlan {
  /** Floats per block of the ring's interleaved layout, the same for every bucket. */
  readonly interleave: number;
  /** Bucket b is [starts[b], starts[b + 1]); the last entry is the buffer's length. */
  readonly starts: readonly number[];
}

/**
 * Buckets of about `bucketMb` MiB over a buffer of `length` floats, `gradLength` of them
 * gradients, on `worldSize` ranks; 0 MiB: one bucket. The block is the largest power of two with
 * at least 8 blocks per rank in the gradients (within [1 Ki, 256 Ki] floats), so the ring's chunks
 * stay balanced; it depends only on the model and the world size, never on the bucket size.
 */
export function planBuckets(
  length: number,
  gradLength: number,
  worldSize: number,
  bucketMb: number,
): BucketPlan {
  const fit = Math.max(1, Math.floor(gradLength / (8 * worldSize)));
  const interleave = Math.min(MAX_BLOCK, Math.max(MIN_BLOCK, 2 ** Math.floor(Math.log2(fit))));
  const unit = interleave * worldSize;
  if (bucketMb <= 0) return { interleave, starts: [0, length] };
  const size = Math.max(1, Math.round((bucketMb * (1 << 20)) / 4 / unit)) * unit;
  const starts: number[] = [];
  for (let at = 0; at < length; at += size) starts.push(at);
  starts.push(length);
  if (starts.length === 1) starts.unshift(0);
  return { interleave, starts };
}

/** Options of one step's {@link GradientBuckets}, identical on every rank. */
export interface BucketCallOptions {
  /** Collective tag of bucket `b` (distinct per bucket and step). */
  readonly tagOf: (bucket: number) => number;
  readonly timeoutMs: number;
  readonly wire: WireDtype;
}

/** What one step's bucketed all-reduce cost. */
export interface BucketTimes {
  /** From the first bucket's start to the last one's end. */
  readonly seconds: number;
  /** From the end of the backward pass to the last bucket's end: the all-reduce time compute did not hide. */
  readonly exposedSeconds: number;
}

/** One step's all-reduce (average) of `data` in the buckets of `plan`, and of the step's exact values. */
export class GradientBuckets {
  /** Floats of each bucket not final yet. */
  private readonly missing: number[];
  private readonly calls: Promise<void>[] = [];
  private firstStart = -1;
  private failure: unknown = null;

  constructor(
    private readonly group: ProcessGroup,
    private readonly data: Float32Array,
    private readonly plan: BucketPlan,
    private readonly options: BucketCallOptions,
  ) {
    if (plan.starts[plan.starts.length - 1] !== data.length) {
      throw new RangeError(`the bucket plan covers ${plan.starts.at(-1)} floats, the buffer ${data.length}`);
    }
    this.missing = plan.starts.slice(1).map((end, b) => end - plan.starts[b]!);
  }

  /** Marks [lo, hi) final; every bucket it completes starts its all-reduce now. */
  ready(lo: number, hi: number): void {
    const starts = this.plan.starts;
    for (let b = 0; b < this.missing.length; b++) {
      const from = Math.max(lo, starts[b]!);
      const to = Math.min(hi, starts[b + 1]!);
      if (to <= from) continue;
      const left = this.missing[b]! - (to - from);
      if (left < 0) throw new RangeError(`[${lo}, ${hi}) was marked final twice in bucket ${b}`);
      this.missing[b] = left;
      if (left === 0) this.launch(b);
    }
  }

  private launch(b: number): void {
    const { starts } = this.plan;
    this.track(
      this.group.allreduce(this.data.subarray(starts[b]!, starts[b + 1]!), 'avg', {
        tag: this.options.tagOf(b),
        timeoutMs: this.options.timeoutMs,
        wire: this.options.wire,
        interleave: this.plan.interleave,
      }),
    );
  }

  /** Starts the all-reduce of a buffer the backward pass does not write (values summed as they are). */
  also(data: Float32Array, tag: number): void {
    this.track(this.group.allreduce(data, 'sum', { tag, timeoutMs: this.options.timeoutMs }));
  }

  private track(call: Promise<void>): void {
    if (this.firstStart < 0) this.firstStart = performance.now();
    // The first failure is the one to report; the links fail, so the others end at once too.
    this.calls.push(
      call.catch((err: unknown) => {
        this.failure ??= err;
      }),
    );
  }

  /**
   * Called once the backward pass is over: waits for every bucket and returns the times, or throws
   * the first bucket's failure.
   */
  async finish(): Promise<BucketTimes> {
    const computeDone = performance.now();
    await Promise.all(this.calls);
    const pending = this.missing.findIndex((m) => m > 0);
    if (pending >= 0) {
      throw new RangeError(
        `bucket ${pending} of the gradient all-reduce still misses ${this.missing[pending]} values at the end of the backward pass`,
      );
    }
    if (this.failure !== null) throw this.failure;
    const end = performance.now();
    return { seconds: (end - this.firstStart) / 1000, exposedSeconds: (end - computeDone) / 1000 };
  }
}
