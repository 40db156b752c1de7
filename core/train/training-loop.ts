/**
 * The step loop every rank runs: for each step, batch -> compute -> reduce -> commit, then the
 * step's logs, replica checks and checkpoints. Alone (`group` null) it is the single-process
 * trainer; in a cluster every rank of a generation runs it in lockstep over the same steps and
 * collective tags, each on its share of every global batch.
 *
 * Replicas stay identical because every rank starts from the same state, commits the same
 * all-reduced gradient with the same optimizer, and the all-reduce gives every rank bit-identical
 * sums. The loss, the model's extras and a drain vote ride in the step's all-reduce with the
 * gradients, so the logged loss is the job-wide mean and the ranks agree on where a generation
 * stops at no extra round trip. `--allreduce-dtype bf16|fp16` sends the gradients as 16 bits. What outlives one generation (the state, the cursor) lives in
 * {@link TrainingState}; membership, rollback and state transfer live in core/elastic/.
 */
import type { ProcessGroup } from '../collective/process-group.js';
import { wireBytes, type WireDtype } from '../collective/wire-dtype.js';
import type { Batch } from '../data/batch-source.js';
import type { BatchShare } from '../data/sampler.js';
import { NOISE_STREAM, SampleNoise } from '../data/sample-noise.js';
import { deriveSeed, Rng } from '../data/rng.js';
import { BackendError, ClusterError, ConfigError } from '../errors.js';
import type { LayeredStep, StepResult } from '../models/model.js';
import { DEFAULT_BUCKET_MB } from '../config/job-config.js';
import { GradientBuckets, planBuckets, type BucketPlan, type BucketTimes } from './gradient-buckets.js';
import type { MetricsRecord } from './metrics-log.js';
import type { ProgressReporter } from './progress.js';
import type { RunSetup } from './run-setup.js';
import type { TrainingHost } from './training-host.js';
import type { DataCursor } from './checkpoint.js';
import { SyncRound, type CommittedStep } from './sync-round.js';
import type { TrainingState } from './training-state.js';
import { epochSamplesFile, epochSamplesPng } from '../viz/epoch-samples.js';
import { putHalves, readHalves } from './exact-halves.js';
import { checkWireRange } from './wire-range.js';

/** Streams of the run seed, so initialisation, noise and evaluation never share numbers. */
export const SEED_STREAM = { init: 1, noise: NOISE_STREAM, eval: 3 } as const;

/**
 * Collective tags: step * TAG_STRIDE + purpose, identical on every rank; a step's gradient buckets
 * take the tags from BUCKET_TAGS on (planBuckets makes at most a few hundred).
 */
const TAG_STRIDE = 1 << 16;
const TAG = { grads: 0, digest: 1, exact: 2, sync: 3, syncHeader: 4 } as const;
const BUCKET_TAGS = 8;

/** Collective tag of `purpose` at `step`. */
export function collectiveTag(step: number, purpose: keyof typeof TAG): number {
  return step * TAG_STRIDE + TAG[purpose];
}

/** Collective tag of gradient bucket `bucket` at `step`. */
function bucketTag(step: number, bucket: number): number {
  if (bucket >= TAG_STRIDE - BUCKET_TAGS)
    throw new RangeError(`bucket ${bucket}: too many buckets for one step's tags`);
  return step * TAG_STRIDE + BUCKET_TAGS + bucket;
}

/** The generator state a checkpoint records for `step` (the noise of a step is per sample now). */
export function checkpointRng(seed: number, step: number): Rng {
  return new Rng(deriveSeed(seed, step, 0, SEED_STREAM.noise));
}

/** A 32-bit FNV-1a digest of the parameters' bytes. */
export function paramDigest(params: Float32Array): number {
  const words = new Uint32Array(params.buffer, params.byteOffset, params.length);
  let h = 0x811c9dc5;
  for (let i = 0; i < words.length; i++) h = Math.imul(h ^ words[i]!, 0x01000193);
  return h >>> 0;
}

/** Options of {@link runTrainingLoop}. */
export interface LoopOptions {
  readonly host: TrainingHost;
  /** The generation's process group, or null when training alone. */
  readonly group: ProcessGroup | null;
  /** This rank's share of every global batch. */
  readonly share: BatchShare;
  /** Progress bar (rank 0 of a local run); null for none. */
  readonly progress: ProgressReporter | null;
  /** Steps between replica digest comparisons; 0 disables them. */
  readonly digestEvery: number;
  /** Deadline of one collective call. */
  readonly collectiveTimeoutMs: number;
  /** The generation, for samples.jsonl; 0 alone. */
  readonly generation?: number;
  /**
   * Asked before every all-reduce: does this rank want the group to stop at the next step boundary
   * (a worker leaving or joining)? One vote stops every rank after the same committed step.
   */
  readonly drainRequested?: () => boolean;
  /** Told true when a step's compute starts and false once it is committed (whether one is in flight). */
  readonly onStepStarted?: (inFlight: boolean) => void;
}

/** Where a loop ended. */
export interface LoopResult {
  /** 'done': every step of the run is committed; 'drained': the group agreed to stop here. */
  readonly ended: 'done' | 'drained';
  /** Mean training loss of the last logged interval (NaN when none was logged). */
  readonly lastLoss: number;
  /** Seconds spent in the loop. */
  readonly trainSeconds: number;
  /** Pictures this loop handed to the host (sample grids after each epoch). */
  readonly pictures: readonly string[];
  /** Seconds this loop spent in each phase, by phase index (0 for phases it did not run). */
  readonly phaseSeconds: readonly number[];
}

/**
 * Gathers every rank's `local` (same length everywhere) into one buffer in rank order: an
 * all-reduce (sum) over a zero buffer in which each rank fills its own slice.
 */
async function allGather(
  group: ProcessGroup,
  local: Float32Array,
  tag: number,
  timeoutMs: number,
): Promise<Float32Array> {
  const all = new Float32Array(local.length * group.worldSize);
  all.set(local, local.length * group.rank);
  await group.allreduce(all, 'sum', { tag, timeoutMs });
  return all;
}

/** Checks that every rank of `group` holds bit-identical parameters; throws REPLICA_DIVERGED otherwise. */
export async function checkReplicas(
  group: ProcessGroup,
  params: Float32Array,
  step: number,
  timeoutMs: number,
): Promise<boolean> {
  const digest = paramDigest(params);
  const mine = new Float32Array(2);
  putHalves(mine, 0, [digest]);
  const digests = readHalves(
    await allGather(group, mine, collectiveTag(step, 'digest'), timeoutMs),
    0,
    group.worldSize,
  );
  const odd = digests.flatMap((d, r) => (d === digests[0] ? [] : [r]));
  if (odd.length > 0) {
    throw new ClusterError(
      'REPLICA_DIVERGED',
      `parameters diverged at step ${step}: rank(s) ${odd.join(', ')} differ from rank 0 ` +
        `(digests ${digests.map((d) => d.toString(16)).join(', ')}); the replicas are no longer identical`,
    );
  }
  return true;
}

/**
 * The all-reduce buffers of one rank. `packed` is averaged: the gradients, each rank's mean values
 * scaled by count * W / B when the shares differ, so that the average is the mean over the global
 * batch. `exact` is summed, for values that must arrive bit for bit: the model state of every
 * position and, when audited, every position's corpus index (two 16-bit halves); each rank fills
 * its positions and leaves the rest zero. The tail [loss | extras | drain vote] rides at the end
 * of `packed` on a float32 wire; on a 16-bit one it leads `exact` (summed, then divided by W), so
 * that the logged loss and the vote keep float32's precision.
 */
class StepBuffers {
  readonly packed: Float32Array;
  readonly exact: Float32Array | null;
  readonly extraNames: readonly string[];
  readonly wire: WireDtype;
  private readonly tail: Float32Array;
  /** Where `exact`'s own values start: after the tail when it rides there. */
  private readonly exactStart: number;

  constructor(
    gradLength: number,
    extraNames: readonly string[],
    private readonly stateLength: number,
    private readonly auditPositions: number,
    wire: WireDtype,
    private readonly worldSize: number,
  ) {
    this.extraNames = extraNames;
    this.wire = wire;
    const tailLength = 1 + extraNames.length + 1;
    const own = stateLength + 2 * auditPositions;
    if (wire === 'float32') {
      this.packed = new Float32Array(gradLength + tailLength);
      this.tail = this.packed.subarray(gradLength);
      this.exact = own > 0 ? new Float32Array(own) : null;
      this.exactStart = 0;
    } else {
      this.packed = new Float32Array(gradLength);
      this.exact = new Float32Array(tailLength + own);
      this.tail = this.exact.subarray(0, tailLength);
      this.exactStart = tailLength;
    }
  }

  get grads(): Float32Array {
    return this.wire === 'float32' ? this.packed.subarray(0, this.tail.byteOffset / 4) : this.packed;
  }

  /** Bytes one step puts through the all-reduce, as they travel. */
  get wireBytes(): number {
    return this.packed.length * wireBytes(this.wire) + (this.exact?.byteLength ?? 0);
  }

  /** Writes the tail (loss, extras, drain vote), weighted like the gradients. */
  fillTail(loss: number, extras: StepResult['extras'], weight: number, drain: boolean): void {
    const t = this.tail;
    t[0] = loss;
    this.extraNames.forEach((k, i) => (t[1 + i] = extras?.[k] ?? NaN));
    if (weight !== 1) for (let i = 0; i <= this.extraNames.length; i++) t[i] = t[i]! * weight;
    t[t.length - 1] = drain ? 1 : 0;
  }

  /** The tail's range in `packed` (empty where it rides in `exact`). */
  get tailRange(): readonly [number, number] {
    const at = this.exactStart > 0 ? this.packed.length : this.grads.length;
    return [at, this.packed.length];
  }

  /** Takes the gradients [lo, hi) of `from` (copied unless they were written in place), weighted. */
  takeGrads(from: Float32Array, lo: number, hi: number, weight: number): void {
    const grads = this.grads;
    if (from.buffer !== grads.buffer) grads.set(from.subarray(lo, hi), lo);
    if (weight !== 1) for (let i = lo; i < hi; i++) grads[i] = grads[i]! * weight;
  }

  fillExact(share: BatchShare, modelState: Float32Array | null, indices: Uint32Array): void {
    const e = this.exact;
    if (!e) return;
    const at = this.exactStart;
    e.fill(0, at);
    if (this.stateLength > 0 && modelState) {
      const perRow = modelState.length / share.count;
      e.set(modelState, at + share.offset * perRow);
    }
    if (this.auditPositions > 0)
      putHalves(e, at + this.stateLength + 2 * share.offset, indices.subarray(0, share.count));
  }

  /** A tail value averaged over the ranks (the ring averaged it, or it was summed). */
  private mean(i: number): number {
    return this.exactStart > 0 ? this.tail[i]! / this.worldSize : this.tail[i]!;
  }

  loss(): number {
    return this.mean(0);
  }

  extras(): Record<string, number> {
    return Object.fromEntries(this.extraNames.map((k, i) => [k, this.mean(1 + i)]));
  }

  drained(): boolean {
    return this.tail[this.tail.length - 1]! > 0;
  }

  modelState(): Float32Array | null {
    const at = this.exactStart;
    return this.exact && this.stateLength > 0 ? this.exact.slice(at, at + this.stateLength) : null;
  }

  samples(): number[] {
    return readHalves(this.exact!, this.exactStart + this.stateLength, this.auditPositions);
  }
}

/**
 * Trains `state` from its cursor on this rank's share, committing every step, until the run's
 * last step (ended 'done') or a step boundary the group voted to stop at (ended 'drained'). A
 * failed collective throws its CollectiveError with the step uncommitted: the caller restores the
 * state and re-forms the group. With local SGD (`--sync-every H`) each rank commits its own inner
 * steps and a round's sync commits them for the job (sync-round.ts); a round ends every H steps
 * and at every epoch end, checkpoint, phase change and the run's end, so those always see synced
 * parameters.
 */
export async function runTrainingLoop(
  setup: RunSetup,
  state: TrainingState,
  opts: LoopOptions,
): Promise<LoopResult> {
  const { model, source, config, stepsPerEpoch, totalSteps, phases } = setup;
  const { host, group, progress, share } = opts;
  const rank = group?.rank ?? 0;
  const worldSize = group?.worldSize ?? 1;
  const params = state.params;
  const globalBatch = config.batchSize;
  const multiPhase = phases.length > 1;
  // Equal shares average as they are; unequal ones are weighted so the average is the global mean.
  const weight = worldSize > 1 ? (share.count * worldSize) / globalBatch : 1;
  const exactRows = group !== null && model.saveState !== undefined ? globalBatch : 0;
  // Records of jobs submitted before the options existed have neither.
  const wire: WireDtype = config.allreduceDtype ?? 'float32';
  const outer = state.outer;
  const round = outer ? new SyncRound() : null;

  const phaseSeconds = phases.map(() => 0);
  const pictures: string[] = [];
  const epochSamples = async (epoch: number): Promise<void> => {
    // Ancestral samplers only: 100 Gibbs chains of 1,000 steps would cost the RBM and DBN seconds per epoch.
    if (rank !== 0 || !config.pictures || !model.sample || !model.priorCodes) return;
    const png = epochSamplesPng(
      model,
      params,
      source.shape,
      deriveSeed(config.seed, SEED_STREAM.eval, 0x65706f),
    );
    if (!png) return;
    const name = epochSamplesFile(epoch);
    await host.savePicture(name, png);
    pictures.push(name);
  };

  let buffers: StepBuffers | null = null;
  let plan: BucketPlan | null = null;
  let lossSum = 0;
  let lossCount = 0;
  let extrasSum: Record<string, number> = {};
  let allreduceSum = 0;
  let exposedSum = 0;
  let dataWaitSum = 0;
  let allreduceBytesSum = 0;
  let lastLoss = NaN;
  let intervalStart = performance.now();
  let intervalImages = 0;
  const started = performance.now();
  let phaseStarted = started;

  const flush = async (
    cursor: DataCursor,
    lr: number,
    momentum: number | null,
    phaseIndex: number,
  ): Promise<void> => {
    if (lossCount === 0) return;
    const seconds = (performance.now() - intervalStart) / 1000;
    const record: Record<string, number> = {
      step: cursor.step,
      epoch: cursor.epoch,
      loss: lossSum / lossCount,
      images_per_second: seconds > 0 ? intervalImages / seconds : 0,
      lr,
      data_wait_seconds: dataWaitSum / lossCount,
    };
    if (momentum !== null) record['momentum'] = momentum;
    if (multiPhase) record['phase'] = phaseIndex;
    if (group) {
      record['allreduce_seconds'] = allreduceSum / lossCount;
      record['allreduce_exposed_seconds'] = exposedSum / lossCount;
      record['allreduce_bytes'] = allreduceBytesSum / lossCount;
      record['generation'] = opts.generation ?? 0;
      record['world_size'] = worldSize;
    }
    for (const [k, v] of Object.entries(extrasSum)) record[k] = v / lossCount;
    await host.appendMetrics(record as MetricsRecord);
    lastLoss = lossSum / lossCount;
    lossSum = 0;
    lossCount = 0;
    allreduceSum = 0;
    exposedSum = 0;
    dataWaitSum = 0;
    allreduceBytesSum = 0;
    extrasSum = {};
    intervalStart = performance.now();
    intervalImages = 0;
  };

  let checkedStep = -1;
  const check = async (): Promise<void> => {
    if (!group || checkedStep === state.cursor.step) return;
    checkedStep = state.cursor.step;
    // Awaited before the optional call: `host.digestChecked?.(await ...)` would skip the check itself.
    const matched = await checkReplicas(group, params, state.cursor.step, opts.collectiveTimeoutMs);
    host.digestChecked?.(matched);
  };

  const save = async (): Promise<void> => {
    if (rank === 0)
      await host.saveCheckpoint(state.checkpoint(checkpointRng(config.seed, state.cursor.step).state()));
  };

  const checkpointAt = (step: number): boolean =>
    config.checkpointEvery > 0 ? step % config.checkpointEvery === 0 : step % stepsPerEpoch === 0;

  /**
   * What follows a step the job committed: its records, progress, pictures and checkpoint. `last`
   * is false for a local-SGD round's steps before its last (the parameters are the synced ones
   * only after the last), `digestDue` whether the replicas are compared now.
   */
  const committed = async (c: CommittedStep, last: boolean, digestDue: boolean, drained: boolean) => {
    if (last && c.info.phase.index !== state.phase.index) {
      phaseSeconds[c.info.phase.index]! += (performance.now() - phaseStarted) / 1000;
      phaseStarted = performance.now();
    }
    if (c.samples)
      await host.appendSamples?.({
        step: c.step,
        epoch: c.epoch,
        generation: opts.generation ?? 0,
        samples: c.samples,
      });
    const cursor = c.cursor;
    lossSum += c.loss;
    lossCount++;
    allreduceSum += c.allreduceSeconds;
    exposedSum += c.allreduceExposedSeconds;
    dataWaitSum += c.dataWaitSeconds;
    allreduceBytesSum += c.allreduceBytes;
    intervalImages += globalBatch;
    for (const [k, v] of Object.entries(c.extras)) extrasSum[k] = (extrasSum[k] ?? 0) + v;
    host.stepDone({
      step: cursor.step,
      epoch: c.epoch,
      phase: c.info.phase.index,
      totalSteps,
      imagesSeen: cursor.imagesSeen,
      rankImages: share.count,
      loss: c.loss,
      stepSeconds: c.stepSeconds,
      dataWaitSeconds: c.dataWaitSeconds,
      allreduceSeconds: c.allreduceSeconds,
      allreduceExposedSeconds: c.allreduceExposedSeconds,
      allreduceBytes: c.allreduceBytes,
    });
    if (last && digestDue) await check();
    const endOfEpoch = cursor.step % stepsPerEpoch === 0;
    const checkpointNow = checkpointAt(cursor.step);
    if (cursor.step % config.logEvery === 0 || endOfEpoch || checkpointNow || (last && drained))
      await flush(cursor, c.info.lr, c.info.momentum, c.info.phase.index);
    progress?.update({ step: cursor.step, imagesSeen: cursor.imagesSeen, loss: c.loss, epoch: c.epoch });
    if (endOfEpoch) await epochSamples(c.epoch);
    if (checkpointNow) {
      if (endOfEpoch) state.endEpoch(c.epoch);
      await save();
    }
  };

  const diverged = (step: number, loss: number): ConfigError =>
    new ConfigError('lr', `training diverged at step ${step} (loss ${loss}); lower --lr (now ${config.lr})`);
  const digestBetween = (from: number, to: number): boolean =>
    opts.digestEvery > 0 && Math.floor(to / opts.digestEvery) > Math.floor(from / opts.digestEvery);

  // Every step's gradient is written into one buffer: the all-reduce buffer once it exists.
  const gradsAlone = new Float32Array(params.length);
  const finish = (ended: LoopResult['ended']): LoopResult => {
    phaseSeconds[state.phase.index]! += (performance.now() - phaseStarted) / 1000;
    return { ended, lastLoss, trainSeconds: (performance.now() - started) / 1000, phaseSeconds, pictures };
  };
  try {
    while (!state.done) {
      const epoch = state.epoch;
      const first = state.cursor.step % stepsPerEpoch;
      for await (const [batch, dataWaitSeconds] of timedBatches(source.batches(epoch, first, share))) {
        const stepStarted = performance.now();
        const step = state.cursor.step;
        opts.onStepStarted?.(true);
        const noise = new SampleNoise(config.seed, step, share.offset, share.count);
        if (round) {
          // Local SGD: this rank's own step, committed for the job by the round's sync.
          const roundFrom = step - round.length;
          const result = modelStep(setup, params, batch.pixels, share.count, noise, gradsAlone);
          if (!Number.isFinite(result.loss)) throw diverged(step, result.loss);
          const info = state.commit(result.grads, null);
          round.add({
            step,
            epoch,
            cursor: state.cursor,
            info,
            loss: result.loss,
            extras: { ...(result.extras ?? {}) },
            indices: config.auditSamples ? Uint32Array.from(batch.indices) : null,
            stepSeconds: (performance.now() - stepStarted) / 1000,
            dataWaitSeconds,
          });
          const at = state.cursor.step;
          const roundEnds =
            round.length >= outer!.settings.every ||
            at % stepsPerEpoch === 0 ||
            checkpointAt(at) ||
            at >= totalSteps ||
            state.phase.index !== info.phase.index;
          if (!roundEnds) continue;
          // This rank's rows of the model state (PCD particles) after its last inner step.
          const ownState = model.saveState?.() ?? null;
          const synced = await round.sync(
            state,
            {
              group,
              share,
              globalBatch,
              extraNames: Object.keys(result.extras ?? {}).sort(),
              wire,
              audit: config.auditSamples,
              statePerRow: ownState ? ownState.length / share.count : 0,
              timeoutMs: opts.collectiveTimeoutMs,
            },
            { delta: collectiveTag(step, 'grads'), summed: collectiveTag(step, 'exact') },
            opts.drainRequested?.() ?? false,
            ownState,
          );
          opts.onStepStarted?.(false);
          const n = synced.committed.length;
          for (let k = 0; k < n; k++) {
            const c = synced.committed[k]!;
            if (!Number.isFinite(c.loss)) throw diverged(c.step, c.loss);
            await committed(c, k === n - 1, digestBetween(roundFrom, at), synced.drained);
          }
          if (synced.drained) return finish('drained');
          continue;
        }
        const into = buffers ? buffers.grads : gradsAlone;
        // In a group the backward pass runs a layer at a time where the model allows it, so that the
        // gradient buckets it completes are all-reduced while the layers below compute.
        const layered =
          group && !model.saveState
            ? modelStepLayered(setup, params, batch.pixels, share.count, noise, into)
            : null;
        const result: StepResult =
          layered ?? modelStep(setup, params, batch.pixels, share.count, noise, into);
        let loss = result.loss;
        let grads = result.grads;
        let extras: Record<string, number> = { ...(result.extras ?? {}) };
        let committedState: Float32Array | null = model.saveState?.() ?? null;
        let samples: number[] | null = config.auditSamples ? [...batch.indices] : null;
        let times: BucketTimes = { seconds: 0, exposedSeconds: 0 };
        let drained = false;
        if (group) {
          const b = (buffers ??= new StepBuffers(
            params.length,
            Object.keys(extras).sort(),
            committedState ? (committedState.length / share.count) * exactRows : 0,
            config.auditSamples ? globalBatch : 0,
            wire,
            worldSize,
          ));
          plan ??= planBuckets(
            b.packed.length,
            params.length,
            worldSize,
            config.bucketMb ?? DEFAULT_BUCKET_MB,
          );
          b.fillTail(result.loss, result.extras, weight, opts.drainRequested?.() ?? false);
          b.fillExact(share, committedState, batch.indices);
          const reduce = new GradientBuckets(group, b.packed, plan, {
            tagOf: (bucket) => bucketTag(step, bucket),
            timeoutMs: opts.collectiveTimeoutMs,
            wire,
          });
          if (b.exact) reduce.also(b.exact, collectiveTag(step, 'exact'));
          reduce.ready(...b.tailRange);
          const take = (lo: number, hi: number): void => {
            b.takeGrads(result.grads, lo, hi, weight);
            reduce.ready(lo, hi);
          };
          if (layered) await runBackward(layered, take);
          else take(0, params.length);
          times = await reduce.finish();
          checkWireRange(b.grads, wire, step, 'gradient');
          grads = b.grads;
          loss = b.loss();
          extras = b.extras();
          committedState = b.modelState();
          if (samples) samples = b.samples();
          drained = b.drained();
        }
        if (!Number.isFinite(loss)) throw diverged(step, loss);
        const info = state.commit(grads, committedState);
        opts.onStepStarted?.(false);
        await committed(
          {
            step,
            epoch,
            cursor: state.cursor,
            info,
            loss,
            extras,
            samples,
            stepSeconds: (performance.now() - stepStarted) / 1000,
            dataWaitSeconds,
            allreduceSeconds: times.seconds,
            allreduceExposedSeconds: times.exposedSeconds,
            allreduceBytes: group ? buffers!.wireBytes : 0,
          },
          true,
          opts.digestEvery > 0 && state.cursor.step % opts.digestEvery === 0,
          drained,
        );
        if (drained) return finish('drained');
      }
      state.endEpoch(epoch);
    }
    // The final state is always checkpointed (a no-op when the last step just was).
    const step = state.cursor.step;
    if (!checkpointAt(step)) await save();
    if (group) await check();
  } finally {
    progress?.finish();
  }
  return finish('done');
}

/**
 * The batches of `batches`, each with the seconds the loop waited for it: the loader's lag behind
 * the step, 0 when the batch was ready.
 */
async function* timedBatches(batches: AsyncIterable<Batch>): AsyncGenerator<[Batch, number]> {
  const it = batches[Symbol.asyncIterator]();
  try {
    for (;;) {
      const asked = performance.now();
      const next = await it.next();
      if (next.done) return;
      yield [next.value, (performance.now() - asked) / 1000];
    }
  } finally {
    // The loop may stop early (a drain): the source's own cleanup still runs.
    await it.return?.();
  }
}

/**
 * Runs a layered step's backward pass, handing each range of gradients to `take` as it is final;
 * between layers the event loop runs the links' reads and the ring's next sends.
 */
async function runBackward(step: LayeredStep, take: (lo: number, hi: number) => void): Promise<void> {
  while (!step.done) {
    for (const [lo, hi] of step.backward()) take(lo, hi);
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}

/** One model step (see {@link withKernelHint}). */
function modelStep(
  setup: RunSetup,
  params: Float32Array,
  batch: Float32Array,
  rows: number,
  noise: SampleNoise,
  out: Float32Array,
): StepResult {
  return withKernelHint(setup, () => setup.model.step(params, batch, rows, noise, out));
}

/** The model's step with its backward pass a layer at a time, or null where it has none. */
function modelStepLayered(
  setup: RunSetup,
  params: Float32Array,
  batch: Float32Array,
  rows: number,
  noise: SampleNoise,
  out: Float32Array,
): LayeredStep | null {
  const model = setup.model;
  if (!model.stepLayered) return null;
  const step = withKernelHint(setup, () => model.stepLayered!(params, batch, rows, noise, out));
  if (!step) return null;
  return {
    loss: step.loss,
    ...(step.extras ? { extras: step.extras } : {}),
    grads: step.grads,
    get done() {
      return step.done;
    },
    backward: () => withKernelHint(setup, () => step.backward()),
  };
}

/**
 * Runs a model's compute; an op the backend has no kernel for (tfjs-backend-wasm 4.22 lacks the
 * convolution filter gradient, for one) becomes a BackendError that says which backends have it.
 */
function withKernelHint<T>(setup: RunSetup, compute: () => T): T {
  try {
    return compute();
  } catch (err) {
    const missing = /Kernel '(\w+)' not registered for backend '(\w+)'/.exec(
      err instanceof Error ? err.message : '',
    );
    if (!missing) throw err;
    throw new BackendError(
      'BACKEND_UNAVAILABLE',
      `model ${setup.model.kind} needs the tfjs kernel ${missing[1]}, which backend "${missing[2]}" does not have; use --backend native (or cpu)`,
      { cause: err },
    );
  }
}
