/**
 * Everything a process builds before its first step, the same way whether it trains alone
 * (trainer.ts) or as one worker of a cluster (worker/): backend, corpus, batch source, model and
 * schedule. Every worker of a job builds the same, whatever its rank or the job's world size: which
 * share of each batch a rank trains on is decided per generation (BatchSource.shareOf).
 */
import { selectBackend, type BackendInfo } from '../compute/backend.js';
import type { JobConfig } from '../config/job-config.js';
import type { BatchSource } from '../data/batch-source.js';
import { limitSet, pixelsPerImage, type ImageSet } from '../data/corpus.js';
import { MemoryBatchSource } from '../data/memory-batch-source.js';
import {
  openCorpus,
  openTestSet,
  shardHttpOptions,
  ShardCorpus,
  type OpenedCorpus,
} from '../data/open-corpus.js';
import { ShardBatchSource } from '../data/shard-batch-source.js';
import { ThreadShardReader } from '../data/thread-shard-reader.js';
import { CheckpointError, ConfigError } from '../errors.js';
import type { Model } from '../models/model.js';
import { findModel } from '../models/registry.js';
import { parseLrSchedule } from './lr-schedule.js';
import { planPhases, type PhasePlan } from './training-phases.js';

/** What one rank trains with. */
export interface RunSetup {
  readonly config: JobConfig;
  readonly backend: BackendInfo;
  readonly corpus: OpenedCorpus;
  /** The test set after --test-data and --test-limit, or null when the corpus has none. */
  readonly testSet: ImageSet | null;
  /** The run's batches (each rank reads its share). */
  readonly source: BatchSource;
  readonly model: Model;
  readonly stepsPerEpoch: number;
  /** Steps of all phases together. */
  readonly totalSteps: number;
  /** The training phases in order (one for a model trained in one go). */
  readonly phases: readonly PhasePlan[];
}

/** Builds a process's training setup from the job config; fails early on bad data or options. */
export async function setUpRun(config: JobConfig): Promise<RunSetup> {
  const backend = await selectBackend(config.backend, config.threads > 0 ? { threads: config.threads } : {});
  const imageShape = { height: config.imageHeight, width: config.imageWidth, channels: config.imageChannels };
  const http = shardHttpOptions(config);
  const corpus = await openCorpus(config.data, { imageShape, http });
  // Opened before training so that a bad test-data fails at once, not after the last epoch.
  const testFull =
    config.testData === ''
      ? corpus.test
      : await openTestSet(config.testData, corpus.train.shape, { imageShape, http });
  const testSet = testFull !== null && config.testLimit > 0 ? limitSet(testFull, config.testLimit) : testFull;
  // The training loop gets pixels only: unsupervised training never reads labels.
  const source: BatchSource =
    corpus.train instanceof ShardCorpus
      ? new ShardBatchSource(corpus.train, {
          // Reading, verifying and decoding a shard happen on their own thread, beside the steps.
          reader: new ThreadShardReader(corpus.train.location, corpus.train.shape, config),
          seed: config.seed,
          limit: config.limit,
          globalBatch: config.batchSize,
          lanes: config.workers,
        })
      : new MemoryBatchSource(
          { ...(config.limit > 0 ? limitSet(corpus.train, config.limit) : corpus.train), labels: null },
          config.seed,
          config.batchSize,
        );
  const model = findModel(config.model).create(pixelsPerImage(source.shape), config.hyper);

  const stepsPerEpoch = source.stepsPerEpoch;
  if (stepsPerEpoch === 0) {
    throw new ConfigError(
      'batch-size',
      corpus.train instanceof ShardCorpus
        ? `${config.batchSize} images a step are more than the ${config.workers} lanes of ${source.count} training images give`
        : `${config.batchSize} is larger than the ${source.count} training images`,
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
    backend,
    corpus,
    testSet,
    source,
    model,
    stepsPerEpoch,
    totalSteps: last.firstStep + last.steps,
    phases,
  };
}

/**
 * Facts of a run that a checkpoint must agree with before it is resumed. The batch size is the
 * global one, so a job on an in-memory corpus may resume with another worker count; a streamed
 * corpus is dealt to the job's most workers as lanes, so there that count is part of the key.
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
