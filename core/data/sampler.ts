/**
 * Deterministic sample order and its partition across ranks: every worker computes the same
 * permutation from (seed, epoch) alone, so no index lists travel between processes.
 *
 * Sample partition rule, with worldSize ranks each taking perRankBatch = b samples per step:
 * - the global batch is B = worldSize * b;
 * - steps per epoch = floor(count / B): the tail of the permutation that does not fill a whole
 *   global batch is dropped, so every rank runs the same number of steps (a different tail is
 *   dropped each epoch, since the permutation changes);
 * - at step t the global batch is perm[t*B, (t+1)*B) and rank r takes the contiguous slice
 *   perm[t*B + r*b, t*B + (r+1)*b).
 * Hence the union of the rank batches at step t is exactly the batch a single worker with batch
 * size B would use at step t, and averaging the ranks' gradients reproduces that worker's step.
 *
 * Shard partition rule (streamed corpora): each epoch the shards are permuted by
 * shardOrder(numShards, seed, epoch); with k = floor(numShards / worldSize), rank r reads the
 * whole shards order[r*k, (r+1)*k), and the last numShards - worldSize*k shards of the order are
 * dropped for that epoch so that every rank reads the same number of shards.
 */
import { Rng, deriveSeed } from './rng.js';

/** Stream id mixed into the shard-order seed so it differs from the sample permutation's. */
const SHARD_ORDER_STREAM = 0x5348;

function checkCount(name: string, v: number, min: number): void {
  if (!Number.isSafeInteger(v) || v < min)
    throw new RangeError(`${name} must be an integer >= ${min}, got ${v}`);
}

function shuffledRange(n: number, seed: number): Uint32Array {
  const a = new Uint32Array(n);
  for (let i = 0; i < n; i++) a[i] = i;
  return new Rng(seed).shuffle(a);
}

/**
 * The sample order of `epoch`: a permutation of 0..count-1, a pure function of
 * (count, seed, epoch) — a Fisher-Yates shuffle by Rng(deriveSeed(seed, epoch)).
 */
export function epochPermutation(count: number, seed: number, epoch: number): Uint32Array {
  checkCount('count', count, 0);
  checkCount('epoch', epoch, 0);
  return shuffledRange(count, deriveSeed(seed, epoch));
}

/** Steps in one epoch for a global batch of `globalBatch` samples: floor(count / globalBatch). */
export function stepsPerEpoch(count: number, globalBatch: number): number {
  checkCount('count', count, 0);
  checkCount('globalBatch', globalBatch, 1);
  return Math.floor(count / globalBatch);
}

/**
 * The sample indices rank `rank` of `worldSize` trains on at `step`:
 * perm[step*B + rank*b, step*B + (rank+1)*b) with b = perRankBatch and B = worldSize * b
 * (see the module comment). Returns a view into `perm`, not a copy.
 */
export function rankBatchIndices(
  perm: Uint32Array,
  step: number,
  rank: number,
  worldSize: number,
  perRankBatch: number,
): Uint32Array {
  checkCount('worldSize', worldSize, 1);
  checkCount('perRankBatch', perRankBatch, 1);
  checkCount('rank', rank, 0);
  if (rank >= worldSize) throw new RangeError(`rank ${rank} out of range for worldSize ${worldSize}`);
  const globalBatch = worldSize * perRankBatch;
  const steps = stepsPerEpoch(perm.length, globalBatch);
  checkCount('step', step, 0);
  if (step >= steps) throw new RangeError(`step ${step} out of range: an epoch has ${steps} steps`);
  const start = step * globalBatch + rank * perRankBatch;
  return perm.subarray(start, start + perRankBatch);
}

/** The shard order of `epoch`: a permutation of 0..numShards-1, a pure function of its arguments. */
export function shardOrder(numShards: number, seed: number, epoch: number): Uint32Array {
  checkCount('numShards', numShards, 0);
  checkCount('epoch', epoch, 0);
  return shuffledRange(numShards, deriveSeed(seed, epoch, SHARD_ORDER_STREAM));
}

/**
 * The shards rank `rank` of `worldSize` reads this epoch: the contiguous slice
 * order[rank*k, (rank+1)*k) with k = floor(order.length / worldSize); the remaining shards are
 * dropped this epoch (see the module comment). Empty when there are fewer shards than ranks: the
 * caller must reject that configuration.
 */
export function assignShards(order: ArrayLike<number>, rank: number, worldSize: number): number[] {
  checkCount('worldSize', worldSize, 1);
  checkCount('rank', rank, 0);
  if (rank >= worldSize) throw new RangeError(`rank ${rank} out of range for worldSize ${worldSize}`);
  const k = Math.floor(order.length / worldSize);
  return Array.from({ length: k }, (_, i) => order[rank * k + i]!);
}
