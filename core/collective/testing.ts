/**
 * Checks shared by the collective tests (not used by the library): the same cases run over the
 * in-memory links and over real loopback gRPC, as tfjs runs one op test on every backend.
 */
import assert from 'node:assert/strict';
import { Rng, deriveSeed } from '../data/rng.js';
import { CollectiveError, type CollectiveErrorCode } from './collective-error.js';
import type { ProcessGroup, ReduceOp } from './process-group.js';
import { roundToWire, type WireDtype } from './wire-dtype.js';

/** Empty, single, shorter than most world sizes, odd, and several 1 MiB segments long. */
export const LENGTHS: readonly number[] = [0, 1, 3, 1001, 700_000];

/** Generous for a correct call on a loaded 2-core machine; failure tests use their own. */
const CALL_TIMEOUT_MS = 20_000;

/** An `assert.rejects` validator: a CollectiveError with this code, peer and message. */
export function isCollectiveError(
  code: CollectiveErrorCode,
  peer: number | null,
  pattern: RegExp = /./,
): (e: unknown) => boolean {
  return (e) => {
    assert.ok(e instanceof CollectiveError, `expected CollectiveError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    assert.equal(e.peer, peer, e.message);
    assert.match(e.message, pattern);
    return true;
  };
}

function randomInputs(worldSize: number, length: number, seed: number): Float32Array[] {
  return Array.from({ length: worldSize }, (_, r) =>
    new Rng(deriveSeed(seed, length, r)).fillNormal(new Float32Array(length)),
  );
}

function sameBits(a: Float32Array, b: Float32Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(
    Buffer.from(b.buffer, b.byteOffset, b.byteLength),
  );
}

/** Unit roundoff of each wire dtype: the relative error of one rounding to it. */
const UNIT_ROUNDOFF: Record<WireDtype, number> = { float32: 2 ** -24, bf16: 2 ** -8, fp16: 2 ** -11 };

/**
 * Allreduces random data on every rank and checks the result against a float64 reduction (within
 * the rounding of float32 sums and of the wire dtype; max and min exactly, rounded to the wire
 * dtype) and that all ranks hold bit-identical results. `interleave` is CollectiveOptions.interleave.
 */
export async function checkAllreduce(
  groups: readonly ProcessGroup[],
  length: number,
  op: ReduceOp,
  tag: number,
  wire: WireDtype = 'float32',
  interleave = 0,
) {
  const n = groups.length;
  const inputs = randomInputs(n, length, tag);
  const outputs = inputs.map((a) => a.slice());
  await Promise.all(
    groups.map((g, r) => g.allreduce(outputs[r]!, op, { tag, timeoutMs: CALL_TIMEOUT_MS, wire, interleave })),
  );
  for (let r = 1; r < n; r++) assert.ok(sameBits(outputs[r]!, outputs[0]!), `rank ${r} differs from rank 0`);
  const out = outputs[0]!;
  for (let i = 0; i < length; i++) {
    let want = inputs[0]![i]!;
    let absSum = Math.abs(want);
    for (let r = 1; r < n; r++) {
      const x = inputs[r]![i]!;
      absSum += Math.abs(x);
      if (op === 'max') want = Math.max(want, x);
      else if (op === 'min') want = Math.min(want, x);
      else want += x;
    }
    if (op === 'max' || op === 'min') {
      // Rounding is monotonic: the extreme of the rounded values is the rounded extreme.
      const exact = Float32Array.of(want);
      if (n > 1) roundToWire(exact, wire);
      if (out[i] !== exact[0]) assert.fail(`${op} element ${i}: ${out[i]} != ${exact[0]}`);
      continue;
    }
    // Each float32 addition, and each rounding to the wire, errs by at most its unit roundoff of a
    // partial sum bounded by absSum (plus, for fp16, half its smallest subnormal, 2^-25, each).
    const lossy = n > 1 && wire !== 'float32';
    let tolerance =
      n * (2 ** -24 + (lossy ? UNIT_ROUNDOFF[wire] : 0)) * absSum +
      (lossy && wire === 'fp16' ? n * 2 ** -25 : 0);
    if (op === 'avg') {
      want /= n;
      tolerance /= n;
    }
    if (!(Math.abs(out[i]! - want) <= tolerance)) assert.fail(`${op} element ${i}: ${out[i]} != ${want}`);
  }
}

/**
 * Averages random floats of magnitudes 2^-12 to 2^12 (so that the order of the float32 additions
 * shows in the bits) on every rank twice: once as the whole buffer, and on copies as the sub-ranges
 * [0, cuts[0]), [cuts[0], cuts[1]) and [cuts[1], length), all in flight together (tags tag to
 * tag + 3, the last rank starting the sub-ranges in reverse order), each call with `interleave`.
 * Checks that all ranks agree bit for bit within each way, and returns the first element whose
 * bits differ between the two ways, or -1 if none does: with interleave G > 0 and cuts at multiples
 * of G * worldSize there must be none.
 */
export async function firstBucketDifference(
  groups: readonly ProcessGroup[],
  length: number,
  cuts: readonly [number, number],
  interleave: number,
  wire: WireDtype,
  tag: number,
): Promise<number> {
  const n = groups.length;
  const whole = groups.map((_, r) => {
    const rng = new Rng(deriveSeed(tag, length, r));
    return Float32Array.from({ length }, () => rng.normal() * 2 ** (rng.int(25) - 12));
  });
  const bucketed = whole.map((a) => a.slice());
  const ranges = [0, cuts[0], cuts[1], length];
  const opts = (k: number) => ({ tag: tag + k, timeoutMs: CALL_TIMEOUT_MS, wire, interleave });
  await Promise.all(
    groups.flatMap((g, r) => [
      g.allreduce(whole[r]!, 'avg', opts(0)),
      ...(r === n - 1 ? [2, 1, 0] : [0, 1, 2]).map((b) =>
        g.allreduce(bucketed[r]!.subarray(ranges[b]!, ranges[b + 1]!), 'avg', opts(b + 1)),
      ),
    ]),
  );
  const bits = (a: Float32Array) => new Uint32Array(a.buffer, a.byteOffset, a.length);
  for (let r = 1; r < n; r++) {
    assert.ok(sameBits(whole[r]!, whole[0]!), `whole: rank ${r} differs from rank 0`);
    assert.ok(sameBits(bucketed[r]!, bucketed[0]!), `sub-ranges: rank ${r} differs from rank 0`);
  }
  const a = bits(whole[0]!);
  const b = bits(bucketed[0]!);
  for (let i = 0; i < length; i++) if (a[i] !== b[i]) return i;
  return -1;
}

/** Broadcasts random data from `root` and checks every rank got the root's exact bits. */
export async function checkBroadcast(
  groups: readonly ProcessGroup[],
  length: number,
  root: number,
  tag: number,
) {
  const buffers = randomInputs(groups.length, length, tag);
  const sent = buffers[root]!.slice();
  await Promise.all(
    groups.map((g, r) => g.broadcast(buffers[r]!, root, { tag, timeoutMs: CALL_TIMEOUT_MS })),
  );
  buffers.forEach((b, r) => assert.ok(sameBits(b, sent), `rank ${r} did not get root ${root}'s data`));
}

/** Ranks enter a barrier 15 ms apart; none may leave before the last one entered. */
export async function checkBarrier(groups: readonly ProcessGroup[], tag: number) {
  let lastEntry = 0;
  const exits = await Promise.all(
    groups.map(async (g, r) => {
      await new Promise((resolve) => setTimeout(resolve, 15 * r));
      lastEntry = Math.max(lastEntry, performance.now());
      await g.barrier({ tag, timeoutMs: CALL_TIMEOUT_MS });
      return performance.now();
    }),
  );
  for (const t of exits) assert.ok(t >= lastEntry, 'a rank left the barrier before every rank entered');
}

/**
 * Every rank but `stalled` starts an allreduce that `stalled` never joins: each must fail with
 * COLLECTIVE_TIMEOUT naming the predecessor it was waiting on, at its deadline and not later;
 * later calls must fail at once.
 */
export async function checkStalledPeer(groups: readonly ProcessGroup[], stalled: number, timeoutMs: number) {
  const n = groups.length;
  const started = performance.now();
  await Promise.all(
    groups.map(async (g, r) => {
      if (r === stalled) return;
      const prev = (r - 1 + n) % n;
      await assert.rejects(
        g.allreduce(new Float32Array(1001), 'sum', { tag: 900, timeoutMs }),
        isCollectiveError('COLLECTIVE_TIMEOUT', prev, new RegExp(`receive from rank ${prev} \\(`)),
      );
      const elapsed = performance.now() - started;
      assert.ok(
        elapsed >= timeoutMs - 5 && elapsed < timeoutMs + 500,
        `rank ${r} failed after ${elapsed} ms`,
      );
      const again = performance.now();
      await assert.rejects(g.barrier({ tag: 901, timeoutMs }), isCollectiveError('COLLECTIVE_TIMEOUT', prev));
      assert.ok(performance.now() - again < 100, 'a call on a failed group did not fail at once');
    }),
  );
}

/**
 * Every rank but `leaving` starts an allreduce, then `leaving` closes its group: every other rank
 * must fail promptly (long before its deadline) with COLLECTIVE_LINK naming `leaving`.
 */
export async function checkLeavingPeer(
  groups: readonly ProcessGroup[],
  leaving: number,
  leave: () => Promise<void>,
) {
  const timeoutMs = 10_000;
  const started = performance.now();
  const calls = groups.map(async (g, r) => {
    if (r === leaving) return;
    await assert.rejects(
      g.allreduce(new Float32Array(5000), 'avg', { tag: 800, timeoutMs }),
      isCollectiveError('COLLECTIVE_LINK', leaving, new RegExp(`rank ${leaving} \\(`)),
    );
    const elapsed = performance.now() - started;
    assert.ok(elapsed < 2_000, `rank ${r} took ${elapsed} ms to notice rank ${leaving} leaving`);
    await assert.rejects(
      g.allreduce(new Float32Array(1), 'sum', { tag: 801, timeoutMs }),
      isCollectiveError('COLLECTIVE_LINK', leaving),
    );
  });
  await new Promise((resolve) => setTimeout(resolve, 50));
  await leave();
  await Promise.all(calls);
}

/**
 * Two calls with different tags in flight together, rank `worldSize - 1` starting them in the other
 * order: tags, not arrival order, must pair segments with calls.
 */
export async function checkConcurrentTags(
  groups: readonly ProcessGroup[],
  length: number,
  tags: readonly [number, number],
): Promise<void> {
  const n = groups.length;
  const a = groups.map((_, r) => Float32Array.from({ length }, (_, i) => r * i));
  const b = groups.map((_, r) => Float32Array.from({ length: 31 }, () => r + 1));
  await Promise.all(
    groups.flatMap((g, r) => {
      const first = g.allreduce(a[r]!, 'sum', { tag: tags[0], timeoutMs: 5000 });
      const second = g.allreduce(b[r]!, 'max', { tag: tags[1], timeoutMs: 5000 });
      return r === n - 1 ? [second, first] : [first, second];
    }),
  );
  const sumOfRanks = (n * (n - 1)) / 2;
  for (let r = 0; r < n; r++) {
    assert.deepEqual(
      [...a[r]!],
      Array.from({ length }, (_, i) => sumOfRanks * i),
    );
    assert.deepEqual(
      [...b[r]!],
      Array.from({ length: 31 }, () => n),
    );
  }
}
