/**
 * The step loop every rank runs: batch -> model step -> (all-reduce) -> optimizer update, with
 * metrics, checkpoints and replica checks. Alone (`group` null) it is the single-process trainer;
 * in a cluster every rank runs it in lockstep over the same steps and collective tags.
 *
 * Replicas stay identical because every rank starts from the same parameters, applies the same
 * all-reduced (averaged) gradient with the same optimizer, and the all-reduce gives every rank
 * bit-identical sums. The loss and the model's extra figures ride in the same buffer as the
 * gradients, so the logged loss is the job-wide mean at no extra round trip.
 */
import type { ProcessGroup } from '../collective/process-group.js';
import { BackendError, ClusterError, ConfigError } from '../errors.js';
import { deriveSeed, Rng } from '../data/rng.js';
import type { CheckpointData, DataCursor } from './checkpoint.js';
import type { MetricsRecord } from './metrics-log.js';
import type { StepResult } from '../models/model.js';
import type { Optimizer, OptimizerState } from './optimizer.js';
import type { ProgressReporter } from './progress.js';
import { checkpointSnapshot, type RunSetup } from './run-setup.js';
import { Sgd } from './sgd.js';
import type { TrainingHost } from './training-host.js';
import { epochSamplesFile, epochSamplesPng } from '../viz/epoch-samples.js';
import { createPhaseOptimizer, phaseAtStep, phaseMomentum, type PhasePlan } from './training-phases.js';

/** Streams of the run seed, so initialisation, noise and evaluation never share numbers. */
export const SEED_STREAM = { init: 1, noise: 2, eval: 3 } as const;

/** Collective tags: step * TAG_STRIDE + purpose, identical on every rank. */
const TAG_STRIDE = 4;
const TAG = { grads: 0, digest: 1, state: 2, sync: 3 } as const;

/** Collective tag of `purpose` at `step`. */
export function collectiveTag(step: number, purpose: keyof typeof TAG): number {
  return step * TAG_STRIDE + TAG[purpose];
}

/**
 * The noise generator of one step on one rank: a pure function of (seed, step, rank), so a
 * resumed run draws the same noise as an uninterrupted one without saving generator state.
 */
export function stepNoiseRng(seed: number, step: number, rank: number): Rng {
  return new Rng(deriveSeed(seed, step, rank, SEED_STREAM.noise));
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
  /** The cluster's process group, or null when training alone. */
  readonly group: ProcessGroup | null;
  /** Progress bar (rank 0 of a local run); null for none. */
  readonly progress: ProgressReporter | null;
  /** Steps between replica digest comparisons; 0 disables them. */
  readonly digestEvery: number;
  /** Deadline of one collective call. */
  readonly collectiveTimeoutMs: number;
}

/** Where a loop starts. */
export interface LoopStart {
  readonly params: Float32Array;
  readonly cursor: DataCursor;
  /** The optimizer state of the phase at `cursor.step`, when resuming; a fresh optimizer otherwise. */
  readonly optimizerState?: OptimizerState;
}

/** Where a loop ended. */
export interface LoopResult {
  readonly cursor: DataCursor;
  /** Mean training loss of the last logged interval. */
  readonly lastLoss: number;
  /** Seconds spent in the loop. */
  readonly trainSeconds: number;
  /** Pictures this loop handed to the host (sample grids after each epoch). */
  readonly pictures: readonly string[];
  /** Seconds this loop spent in each phase, by phase index (0 for phases it did not run). */
  readonly phaseSeconds: readonly number[];
}

function setMomentum(optimizer: Optimizer, phase: PhasePlan, epoch: number): number | null {
  if (!(optimizer instanceof Sgd)) return null;
  optimizer.momentum = phaseMomentum(phase, epoch);
  return optimizer.momentum;
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

/**
 * Trains from `start` to the last step of the run, in place on `start.params` and the setup's
 * optimizer and model; returns the final cursor.
 */
export async function runTrainingLoop(
  setup: RunSetup,
  start: LoopStart,
  opts: LoopOptions,
): Promise<LoopResult> {
  const { model, source, config, stepsPerEpoch, totalSteps, phases } = setup;
  const { host, group, progress } = opts;
  const rank = setup.placement.rank;
  const worldSize = setup.placement.worldSize;
  const params = start.params;
  let cursor = start.cursor;
  const snapshot = checkpointSnapshot(config, setup.backend.name);
  const globalBatch = setup.batchSize * worldSize;
  const multiPhase = phases.length > 1;

  // The optimizer state always belongs to the phase of cursor.step: a phase's fresh optimizer
  // replaces the last one right after that one's final step, before any checkpoint.
  let phase = phaseAtStep(phases, cursor.step);
  let optimizer = createPhaseOptimizer(phase, params.length, config.beta2);
  if (start.optimizerState) optimizer.loadState(start.optimizerState);
  model.setPhase?.(phase.index);
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
  let phaseStarted = performance.now();
  const enterPhase = (next: PhasePlan): void => {
    phaseSeconds[phase.index]! += (performance.now() - phaseStarted) / 1000;
    phaseStarted = performance.now();
    phase = next;
    optimizer = createPhaseOptimizer(phase, params.length, config.beta2);
    model.setPhase?.(phase.index);
  };

  // Gradients, then the loss, then the extras in name order: one all-reduce per step.
  let packed: Float32Array | null = null;
  let extraNames: string[] = [];

  let lossSum = 0;
  let lossCount = 0;
  let extrasSum: Record<string, number> = {};
  let allreduceSum = 0;
  let lastLoss = NaN;
  let intervalStart = performance.now();
  let intervalImages = 0;
  const started = performance.now();

  const flush = async (lr: number, momentum: number | null): Promise<void> => {
    if (lossCount === 0) return;
    const seconds = (performance.now() - intervalStart) / 1000;
    const record: Record<string, number> = {
      step: cursor.step,
      epoch: cursor.epoch,
      loss: lossSum / lossCount,
      images_per_second: seconds > 0 ? intervalImages / seconds : 0,
      lr,
    };
    if (momentum !== null) record['momentum'] = momentum;
    if (multiPhase) record['phase'] = phase.index;
    if (group) record['allreduce_seconds'] = allreduceSum / lossCount;
    for (const [k, v] of Object.entries(extrasSum)) record[k] = v / lossCount;
    if (rank === 0) await host.appendMetrics(record as MetricsRecord);
    lastLoss = lossSum / lossCount;
    lossSum = 0;
    lossCount = 0;
    allreduceSum = 0;
    extrasSum = {};
    intervalStart = performance.now();
    intervalImages = 0;
  };

  let checkedStep = -1;
  const checkReplicas = async (): Promise<void> => {
    if (!group || checkedStep === cursor.step) return;
    checkedStep = cursor.step;
    const digest = paramDigest(params);
    // Two 16-bit halves: exact in float32, so the sum over one non-zero slot is exact.
    const all = await allGather(
      group,
      Float32Array.of(digest >>> 16, digest & 0xffff),
      collectiveTag(cursor.step, 'digest'),
      opts.collectiveTimeoutMs,
    );
    const digests = Array.from({ length: worldSize }, (_, r) => all[2 * r]! * 65536 + all[2 * r + 1]!);
    const odd = digests.flatMap((d, r) => (d === digests[0] ? [] : [r]));
    host.digestChecked?.(odd.length === 0);
    if (odd.length > 0) {
      throw new ClusterError(
        'REPLICA_DIVERGED',
        `parameters diverged at step ${cursor.step}: rank(s) ${odd.join(', ')} differ from rank 0 ` +
          `(digests ${digests.map((d) => d.toString(16)).join(', ')}); the replicas are no longer identical`,
      );
    }
  };

  const save = async (): Promise<void> => {
    let modelState = model.saveState ? model.saveState() : null;
    if (group && modelState) {
      modelState = await allGather(
        group,
        modelState,
        collectiveTag(cursor.step, 'state'),
        opts.collectiveTimeoutMs,
      );
    }
    if (rank !== 0) return;
    const data: CheckpointData = {
      modelKind: model.kind,
      hyper: config.hyper,
      paramSpecs: model.paramSpecs,
      params,
      optimizer: { name: optimizer.name, state: optimizer.state() },
      rng: stepNoiseRng(config.seed, cursor.step, 0).state(),
      cursor,
      seed: config.seed,
      config: snapshot,
      modelState,
    };
    await host.saveCheckpoint(data);
  };

  // Every step's gradient is written into one buffer: the all-reduce buffer once it exists.
  const gradsAlone = new Float32Array(params.length);
  try {
    while (cursor.step < totalSteps) {
      const epoch = Math.floor(cursor.step / stepsPerEpoch);
      const first = cursor.step % stepsPerEpoch;
      const momentum = setMomentum(optimizer, phase, epoch);
      let lr = 0;
      for await (const batch of source.batches(epoch, setup.batchSize, first)) {
        const stepStarted = performance.now();
        const into = packed ? packed.subarray(0, params.length) : gradsAlone;
        const result = modelStep(setup, params, batch, stepNoiseRng(config.seed, cursor.step, rank), into);
        let loss = result.loss;
        let grads = result.grads;
        const extras: Record<string, number> = {};
        let allreduceSeconds = 0;
        if (group) {
          if (packed === null) {
            extraNames = Object.keys(result.extras ?? {}).sort();
            packed = new Float32Array(result.grads.length + 1 + extraNames.length);
          }
          if (result.grads.buffer !== packed.buffer) packed.set(result.grads);
          packed[result.grads.length] = loss;
          extraNames.forEach((k, i) => (packed![result.grads.length + 1 + i] = result.extras?.[k] ?? NaN));
          const t0 = performance.now();
          await group.allreduce(packed, 'avg', {
            tag: collectiveTag(cursor.step, 'grads'),
            timeoutMs: opts.collectiveTimeoutMs,
          });
          allreduceSeconds = (performance.now() - t0) / 1000;
          grads = packed.subarray(0, result.grads.length);
          loss = packed[result.grads.length]!;
          extraNames.forEach((k, i) => (extras[k] = packed![result.grads.length + 1 + i]!));
        } else {
          Object.assign(extras, result.extras ?? {});
        }
        if (!Number.isFinite(loss)) {
          throw new ConfigError(
            'lr',
            `training diverged at step ${cursor.step} (loss ${loss}); lower --lr (now ${config.lr})`,
          );
        }
        lr = phase.lrSchedule(cursor.step - phase.firstStep, phase.steps);
        optimizer.step(params, grads, lr);
        cursor = { epoch, step: cursor.step + 1, imagesSeen: cursor.imagesSeen + globalBatch };
        lossSum += loss;
        lossCount++;
        allreduceSum += allreduceSeconds;
        intervalImages += globalBatch;
        for (const [k, v] of Object.entries(extras)) extrasSum[k] = (extrasSum[k] ?? 0) + v;
        host.stepDone({
          step: cursor.step,
          epoch,
          phase: phase.index,
          totalSteps,
          imagesSeen: cursor.imagesSeen,
          rankImages: setup.batchSize,
          loss,
          stepSeconds: (performance.now() - stepStarted) / 1000,
          allreduceSeconds,
          allreduceBytes: group ? packed!.byteLength : 0,
        });
        if (opts.digestEvery > 0 && cursor.step % opts.digestEvery === 0) await checkReplicas();
        const endOfEpoch = cursor.step % stepsPerEpoch === 0;
        const checkpointNow =
          config.checkpointEvery > 0 ? cursor.step % config.checkpointEvery === 0 : endOfEpoch;
        if (cursor.step % config.logEvery === 0 || endOfEpoch || checkpointNow) await flush(lr, momentum);
        progress?.update({ step: cursor.step, imagesSeen: cursor.imagesSeen, loss, epoch });
        if (endOfEpoch) await epochSamples(epoch);
        if (cursor.step === phase.firstStep + phase.steps && phase.index + 1 < phases.length)
          enterPhase(phases[phase.index + 1]!);
        if (checkpointNow) {
          if (endOfEpoch) cursor = { ...cursor, epoch: epoch + 1 };
          await save();
        }
      }
      cursor = { ...cursor, epoch: epoch + 1 };
    }
    // The final state is always checkpointed (a no-op when the last step just was).
    if (
      config.checkpointEvery > 0
        ? cursor.step % config.checkpointEvery !== 0
        : cursor.step % stepsPerEpoch !== 0
    )
      await save();
    if (group) await checkReplicas();
  } finally {
    progress?.finish();
  }
  phaseSeconds[phase.index]! += (performance.now() - phaseStarted) / 1000;
  return { cursor, lastLoss, trainSeconds: (performance.now() - started) / 1000, phaseSeconds, pictures };
}

/**
 * One model step; an op the backend has no kernel for (tfjs-backend-wasm 4.22 lacks the
 * convolution filter gradient, for one) becomes a BackendError that says which backends have it.
 */
function modelStep(
  setup: RunSetup,
  params: Float32Array,
  batch: Float32Array,
  rng: Rng,
  out: Float32Array,
): StepResult {
  try {
    return setup.model.step(params, batch, setup.batchSize, rng, out);
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
