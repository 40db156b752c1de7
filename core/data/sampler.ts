/**
 * Deterministic sample order and its partition across ranks: every worker computes the same
 * permutation from (seed, epoch) alone, so no index lists travel between processes, and the data a
 * step trains on does not depend on how many workers share it.
 *
 * Sample partition rule (corpora in memory), for a global batch of B samples per step:
 * - steps per epoch = floor(count / B): the tail of the permutation that does not fill a whole
 *   global batch is dropped (a different tail each epoch, since the permutation changes);
 * - at step t the global batch is perm[t*B, (t+1)*B), whatever the world size;
 * - rank r of W trains on the contiguous share of positions [floor(r*B/W), floor((r+1)*B/W)) of it
 *   ({@link batchShare}): shares differ by at most one sample when W does not divide B, and the
 *   caller weights each share's mean gradient by its count / B, so the step is exactly the
 *   single-worker step on the global batch.
 *
 * Shard partition rule (streamed corpora): a job has a fixed number of lanes L (its most workers).
 * Each epoch the shards are permuted by shardOrder(numShards, seed, epoch); with k = floor(numShards
 * / L), lane j reads the whole shards order[j*k, (j+1)*k) (the last numShards - L*k of the order are
 * dropped for that epoch) and contributes the positions batchShare(B, j, L) of every global batch.
 * Rank r of W <= L holds the contiguous lanes {@link laneRange}(r, W, L), so its share is the union
 * of their positions: the global batch of a step depends on L, never on the current world size.
 */
import { Rng, deriveSeed } from './rng.js';

/** Stream id mixed into the shard-order seed so it differs from the sample permutation's. */
const SHARD_ORDER_STREAM = 0x5348;

/** A rank's contiguous part of a step's global batch: positions [offset, offset + count). */
export interface BatchShare {
  readonly offset: number;
  readonly count: number;
}

function checkCount(name: string, v: number, min: number): void {
  if (!Number.isSafeInteger(v) || v < min)
    throw new RangeError(`${name} must be an integer >= ${min}, got ${v}`);
}

function checkRank(rank: number, worldSize: number): void {
  checkCount('worldSize', worldSize, 1);
  checkCount('rank', rank, 0);
  if (rank >= worldSize) throw new RangeError(`rank ${rank} out of range for worldSize ${worldSize}`);
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
 * The share of a global batch of `globalBatch` positions that rank `rank` of `worldSize` takes:
 * [floor(rank*B/W), floor((rank+1)*B/W)). Every rank gets at least one position when W <= B.
 */
export function batchShare(globalBatch: number, rank: number, worldSize: number): BatchShare {
  checkCount('globalBatch', globalBatch, 1);
  checkRank(rank, worldSize);
  if (worldSize > globalBatch) {
    throw new RangeError(`a global batch of ${globalBatch} cannot be shared by ${worldSize} ranks`);
  }
  const offset = Math.floor((rank * globalBatch) / worldSize);
  return { offset, count: Math.floor(((rank + 1) * globalBatch) / worldSize) - offset };
}

/** The sample indices of the global batch of `step`: perm[step*B, (step+1)*B), a view into `perm`. */
export function globalBatchIndices(perm: Uint32Array, step: number, globalBatch: number): Uint32Array {
  const steps = stepsPerEpoch(perm.length, globalBatch);
  checkCount('step', step, 0);
  if (step >= steps) throw new RangeError(`step ${step} out of range: an epoch has ${steps} steps`);
  return perm.subarray(step * globalBatch, (step + 1) * globalBatch);
}

/** The shard order of `epoch`: a permutation of 0..numShards-1, a pure function of its arguments. */
export function shardOrder(numShards: number, seed: number, epoch: number): Uint32Array {
  checkCount('numShards', numShards, 0);
  checkCount('epoch', epoch, 0);
  return shuffledRange(numShards, deriveSeed(seed, epoch, SHARD_ORDER_STREAM));
}

/**
 * The shards lane `lane` of `lanes` reads this epoch: the contiguous slice order[lane*k,
 * (lane+1)*k) with k = floor(order.length / lanes); the remaining shards are dropped this epoch
 * (see the module comment). Empty when there are fewer shards than lanes: the caller must reject
 * that configuration.
 */
export function assignShards(order: ArrayLike<number>, lane: number, lanes: number): number[] {
  checkRank(lane, lanes);
  const k = Math.floor(order.length / lanes);
  return Array.from({ length: k }, (_, i) => order[lane * k + i]!);
}

/** The lanes [first, end) that rank `rank` of `worldSize` holds out of `lanes` (worldSize <= lanes). */
export function laneRange(rank: number, worldSize: number, lanes: number): { first: number; end: number } {
  checkRank(rank, worldSize);
  checkCount('lanes', lanes, 1);
  if (worldSize > lanes) throw new RangeError(`${worldSize} ranks cannot share ${lanes} lanes`);
  return {
    first: Math.floor((rank * lanes) / worldSize),
    end: Math.floor(((rank + 1) * lanes) / worldSize),
  };
}
