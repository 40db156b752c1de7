/**
 * Everything a rank builds before its first step, the same way whether it trains alone
 * (trainer.ts) or as one worker of a cluster (worker/): backend, corpus, this rank's batch source,
 * model, optimizer and schedule. Ranks of one job build identical models and schedules; only the
 * batch source depends on the rank.
 */
import { selectBackend, type BackendInfo } from '../compute/backend.js';
import type { JobConfig } from '../config/job-config.js';
import type { BatchSource } from '../data/batch-source.js';
import { limitSet, pixelsPerImage, type ImageSet } from '../data/corpus.js';
import { MemoryBatchSource } from '../data/memory-batch-source.js';
import { openCorpus, openTestSet, ShardCorpus, type OpenedCorpus } from '../data/open-corpus.js';
import { ShardBatchSource } from '../data/shard-batch-source.js';
import { CheckpointError, ConfigError } from '../errors.js';
import type { Model } from '../models/model.js';
import { findModel } from '../models/registry.js';
import { parseLrSchedule } from './lr-schedule.js';
import { planPhases, type PhasePlan } from './training-phases.js';

/** Where a process sits in its job. */
export interface Placement {
  readonly rank: number;
  readonly worldSize: number;
}

/** What one rank trains with. */
export interface RunSetup {
  readonly config: JobConfig;
  readonly placement: Placement;
  readonly backend: BackendInfo;
  readonly corpus: OpenedCorpus;
  /** The test set after --test-data and --test-limit, or null when the corpus has none. */
  readonly testSet: ImageSet | null;
  /** This rank's batches. */
  readonly source: BatchSource;
  readonly model: Model;
  /** Images per step on this rank: the global batch divided by the world size. */
  readonly batchSize: number;
  readonly stepsPerEpoch: number;
  /** Steps of all phases together. */
  readonly totalSteps: number;
  /** The training phases in order (one for a model trained in one go). */
  readonly phases: readonly PhasePlan[];
}

/** Builds a rank's training setup from the job config; fails early on bad data or options. */
export async function setUpRun(config: JobConfig, placement: Placement): Promise<RunSetup> {
  const backend = await selectBackend(config.backend, config.threads > 0 ? { threads: config.threads } : {});
  const imageShape = { height: config.imageHeight, width: config.imageWidth, channels: config.imageChannels };
  const corpus = await openCorpus(config.data, { imageShape });
  // Opened before training so that a bad test-data fails at once, not after the last epoch.
  const testFull =
    config.testData === ''
      ? corpus.test
      : await openTestSet(config.testData, corpus.train.shape, { imageShape });
  const testSet = testFull !== null && config.testLimit > 0 ? limitSet(testFull, config.testLimit) : testFull;
  // The training loop gets pixels only: unsupervised training never reads labels.
  const source: BatchSource =
    corpus.train instanceof ShardCorpus
      ? new ShardBatchSource(corpus.train, { seed: config.seed, limit: config.limit, ...placement })
      : new MemoryBatchSource(
          { ...(config.limit > 0 ? limitSet(corpus.train, config.limit) : corpus.train), labels: null },
          config.seed,
          placement,
        );
  const model = findModel(config.model).create(pixelsPerImage(source.shape), config.hyper);

  if (config.batchSize % placement.worldSize !== 0) {
    throw new ConfigError(
      'batch-size',
      `the global batch ${config.batchSize} does not split evenly across ${placement.worldSize} workers`,
    );
  }
  const batchSize = config.batchSize / placement.worldSize;
  const stepsPerEpoch = source.stepsPerEpoch(batchSize);
  if (stepsPerEpoch === 0) {
    throw new ConfigError(
      'batch-size',
      `${config.batchSize} is larger than the ${source.count * (corpus.train instanceof ShardCorpus ? placement.worldSize : 1)} training images`,
    );
  }
  const lrSchedule = parseLrSchedule(
    { kind: config.lrSchedule, lr: config.lr, warmupSteps: config.warmupSteps },
    { stepsPerEpoch, field: 'lr-schedule' },
  );
  const phases = planPhases(model, config, stepsPerEpoch, lrSchedule);
  const last = phases[phases.length - 1]!;
  return {
    config,
    placement,
    backend,
    corpus,
    testSet,
    source,
    model,
    batchSize,
    stepsPerEpoch,
    totalSteps: last.firstStep + last.steps,
    phases,
  };
}

/**
 * Facts of a run that a checkpoint must agree with before it is resumed. The batch size is the
 * global one, so a job on an in-memory corpus may resume with another worker count; a streamed
 * corpus is cut by rank, so there the worker count is part of the key.
 */
export function resumeKey(config: JobConfig): Record<string, unknown> {
  return {
    model: config.model,
    hyper: config.hyper,
    data: config.data,
    limit: config.limit,
    'batch-size': config.batchSize,
    seed: config.seed,
    optimizer: config.optimizer,
    ...(config.data.startsWith('shards:') ? { workers: config.workers } : {}),
  };
}

/** The config snapshot a checkpoint records. */
export function checkpointSnapshot(config: JobConfig, backend: string): Record<string, unknown> {
  return {
    ...resumeKey(config),
    workers: config.workers,
    epochs: config.epochs,
    lr: config.lr,
    backend,
    'image-height': config.imageHeight,
    'image-width': config.imageWidth,
    'image-channels': config.imageChannels,
    'test-data': config.testData,
  };
}

/** Throws CheckpointError naming the first fact that differs between the checkpoint and the job. */
export function checkResumable(
  saved: Readonly<Record<string, unknown>>,
  config: JobConfig,
  dir: string,
): void {
  for (const [field, value] of Object.entries(resumeKey(config))) {
    if (JSON.stringify(saved[field]) !== JSON.stringify(value)) {
      throw new CheckpointError(
        'CHECKPOINT_INVALID',
        `cannot resume from ${dir}: ${field} was ${JSON.stringify(saved[field])} there, ${JSON.stringify(value)} now`,
      );
    }
  }
}
