import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { selectBackend, type BackendInfo } from '../compute/backend.js';
import type { JobConfig } from '../config/job-config.js';
import type { BatchSource } from '../data/batch-source.js';
import { limitSet, pixelsPerImage, type ImageSet } from '../data/corpus.js';
import { MemoryBatchSource } from '../data/memory-batch-source.js';
import { evaluationTrainSet, openCorpus, openTestSet, ShardCorpus } from '../data/open-corpus.js';
import { writeFileAtomic } from '../data/atomic-write.js';
import { deriveSeed, Rng } from '../data/rng.js';
import { ShardBatchSource } from '../data/shard-batch-source.js';
import { ConfigError, CheckpointError } from '../errors.js';
import { evaluateModel } from '../eval/evaluate.js';
import { flatLength, type Model } from '../models/model.js';
import { findModel } from '../models/registry.js';
import { writePictures } from '../viz/pictures.js';
import { assertCheckpointFits, readCheckpoint, writeCheckpoint, type DataCursor } from './checkpoint.js';
import { createOptimizer } from './create-optimizer.js';
import { parseLrSchedule } from './lr-schedule.js';
import { MetricsLog, truncateMetricsLog } from './metrics-log.js';
import type { Optimizer } from './optimizer.js';
import { paramStats, type ParamStats } from './param-stats.js';
import { ProgressReporter, type ProgressStream } from './progress.js';
import { Sgd } from './sgd.js';

/** Streams of the run seed, so initialisation, noise and evaluation never share numbers. */
export const SEED_STREAM = { init: 1, noise: 2, eval: 3 } as const;

/** What summary.json holds. */
export interface TrainingSummary {
  readonly model: string;
  readonly hyper: Readonly<Record<string, unknown>>;
  readonly dataset: string;
  readonly backend: string;
  readonly workers: number;
  readonly seed: number;
  readonly batch_size: number;
  readonly epochs: number;
  readonly steps: number;
  readonly images_seen: number;
  readonly wall_seconds: number;
  readonly train_seconds: number;
  readonly images_per_second: number;
  readonly final_train_loss: number;
  readonly param_stats: ParamStats;
  readonly resumed_from_step: number | null;
  readonly test: Readonly<Record<string, number>> | null;
  readonly pictures: readonly string[];
}

export interface TrainingIo {
  /** Progress bar / log lines; default stderr. */
  readonly progress?: ProgressStream;
  /** One-off messages; default console.error. */
  readonly log?: (line: string) => void;
}

/** Fixed facts of a run that a checkpoint must agree with before it is resumed. */
function resumeKey(config: JobConfig): Record<string, unknown> {
  return {
    model: config.model,
    hyper: config.hyper,
    data: config.data,
    limit: config.limit,
    'batch-size': config.batchSize,
    seed: config.seed,
    optimizer: config.optimizer,
  };
}

function checkResumable(saved: Readonly<Record<string, unknown>>, config: JobConfig, dir: string): void {
  const want = resumeKey(config);
  for (const [field, value] of Object.entries(want)) {
    if (JSON.stringify(saved[field]) !== JSON.stringify(value)) {
      throw new CheckpointError(
        'CHECKPOINT_INVALID',
        `cannot resume from ${dir}: ${field} was ${JSON.stringify(saved[field])} there, ${JSON.stringify(value)} now`,
      );
    }
  }
}

function setMomentum(optimizer: Optimizer, config: JobConfig, epoch: number): number | null {
  if (!(optimizer instanceof Sgd)) return null;
  optimizer.momentum = epoch >= config.momentumSwitchEpoch ? config.finalMomentum : config.momentum;
  return optimizer.momentum;
}

/**
 * Trains one model in this process, as the config says: opens the corpus (held in memory, or
 * streamed shard by shard for `shards:DIR`), initialises (or resumes from `<out>/checkpoint`), runs
 * the epochs with checkpoints and metrics.jsonl, then evaluates on the test set and writes pictures
 * and summary.json. Labels are passed to evaluation only.
 */
export async function runTraining(config: JobConfig, io: TrainingIo = {}): Promise<TrainingSummary> {
  const log = io.log ?? ((line: string) => console.error(line));
  const started = performance.now();
  const backend: BackendInfo = await selectBackend(config.backend);

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
      ? new ShardBatchSource(corpus.train, { seed: config.seed, limit: config.limit })
      : new MemoryBatchSource(
          { ...(config.limit > 0 ? limitSet(corpus.train, config.limit) : corpus.train), labels: null },
          config.seed,
        );
  const entry = findModel(config.model);
  const model: Model = entry.create(pixelsPerImage(source.shape), config.hyper);

  const batchSize = config.batchSize;
  const stepsPerEpoch = source.stepsPerEpoch(batchSize);
  if (stepsPerEpoch === 0) {
    throw new ConfigError('batch-size', `${batchSize} is larger than the ${source.count} training images`);
  }
  const totalSteps = stepsPerEpoch * config.epochs;
  const lrSchedule = parseLrSchedule(
    { kind: config.lrSchedule, lr: config.lr, warmupSteps: config.warmupSteps },
    { stepsPerEpoch, field: 'lr-schedule' },
  );
  const optimizer = createOptimizer(
    { optimizer: config.optimizer, momentum: config.momentum },
    flatLength(model.paramSpecs),
  );

  mkdirSync(config.out, { recursive: true });
  const ckptDir = join(config.out, 'checkpoint');
  const metricsPath = join(config.out, 'metrics.jsonl');
  const snapshot = {
    ...resumeKey(config),
    epochs: config.epochs,
    lr: config.lr,
    backend: backend.name,
    'image-height': config.imageHeight,
    'image-width': config.imageWidth,
    'image-channels': config.imageChannels,
    'test-data': config.testData,
  };

  let params: Float32Array;
  let cursor: DataCursor;
  let rng: Rng;
  let resumedFrom: number | null = null;
  if (config.resume) {
    if (!existsSync(ckptDir)) {
      throw new ConfigError('resume', `no checkpoint at ${ckptDir} to resume from`);
    }
    const ckpt = await readCheckpoint(ckptDir);
    assertCheckpointFits(ckpt, {
      kind: model.kind,
      paramSpecs: model.paramSpecs,
      optimizer: config.optimizer,
    });
    checkResumable(ckpt.config, config, ckptDir);
    params = Float32Array.from(ckpt.params);
    optimizer.loadState(ckpt.optimizer.state);
    if (ckpt.modelState && model.loadState) model.loadState(ckpt.modelState);
    rng = Rng.fromState(ckpt.rng);
    cursor = ckpt.cursor;
    resumedFrom = cursor.step;
    truncateMetricsLog(metricsPath, cursor.step);
    log(`resuming ${model.kind} from ${ckptDir} at step ${cursor.step} (epoch ${cursor.epoch})`);
  } else {
    params = model.init(new Rng(deriveSeed(config.seed, SEED_STREAM.init)));
    rng = new Rng(deriveSeed(config.seed, 0, 0, SEED_STREAM.noise));
    cursor = { epoch: 0, step: 0, imagesSeen: 0 };
    rmSync(metricsPath, { force: true });
  }
  log(
    `training ${model.kind} on ${corpus.source} (${source.describe}; ${model.paramSpecs.length} tensors, ` +
      `${params.length} parameters) for ${config.epochs} epochs of ${stepsPerEpoch} steps, backend ${backend.name}`,
  );

  let savedStep = -1;
  const save = async (): Promise<void> => {
    if (savedStep === cursor.step) return;
    savedStep = cursor.step;
    await writeCheckpoint(ckptDir, {
      modelKind: model.kind,
      hyper: config.hyper,
      paramSpecs: model.paramSpecs,
      params,
      optimizer: { name: optimizer.name, state: optimizer.state() },
      rng: rng.state(),
      cursor,
      seed: config.seed,
      config: snapshot,
      modelState: model.saveState ? model.saveState() : null,
    });
  };

  const metrics = new MetricsLog(metricsPath);
  const progress = new ProgressReporter({
    totalSteps,
    startStep: cursor.step,
    startImages: cursor.imagesSeen,
    ...(io.progress ? { stream: io.progress } : {}),
  });
  let lossSum = 0;
  let lossCount = 0;
  let extrasSum: Record<string, number> = {};
  let lastLoss = NaN;
  let intervalStart = performance.now();
  let intervalImages = 0;
  const trainStarted = performance.now();
  const startImages = cursor.imagesSeen;

  const flushLog = (lr: number, momentum: number | null): void => {
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
    for (const [k, v] of Object.entries(extrasSum)) record[k] = v / lossCount;
    metrics.append(record as never);
    lastLoss = lossSum / lossCount;
    lossSum = 0;
    lossCount = 0;
    extrasSum = {};
    intervalStart = performance.now();
    intervalImages = 0;
  };

  try {
    while (cursor.step < totalSteps) {
      const epoch = Math.floor(cursor.step / stepsPerEpoch);
      const first = cursor.step % stepsPerEpoch;
      // Noise is seeded from (run seed, epoch, rank) at every epoch start; only a resume in the
      // middle of an epoch continues from the checkpoint's RNG state.
      if (first === 0) rng = new Rng(deriveSeed(config.seed, epoch, 0, SEED_STREAM.noise));
      const momentum = setMomentum(optimizer, config, epoch);
      let lr = 0;
      for await (const batch of source.batches(epoch, batchSize, first)) {
        const result = model.step(params, batch, batchSize, rng);
        if (!Number.isFinite(result.loss)) {
          throw new ConfigError(
            'lr',
            `training diverged at step ${cursor.step} (loss ${result.loss}); lower --lr (now ${config.lr})`,
          );
        }
        lr = lrSchedule(cursor.step, totalSteps);
        optimizer.step(params, result.grads, lr);
        cursor = { epoch, step: cursor.step + 1, imagesSeen: cursor.imagesSeen + batchSize };
        lossSum += result.loss;
        lossCount++;
        intervalImages += batchSize;
        for (const [k, v] of Object.entries(result.extras ?? {})) extrasSum[k] = (extrasSum[k] ?? 0) + v;
        const endOfEpoch = cursor.step % stepsPerEpoch === 0;
        const checkpointNow =
          config.checkpointEvery > 0 ? cursor.step % config.checkpointEvery === 0 : endOfEpoch;
        if (cursor.step % config.logEvery === 0 || endOfEpoch || checkpointNow) flushLog(lr, momentum);
        progress.update({ step: cursor.step, imagesSeen: cursor.imagesSeen, loss: result.loss, epoch });
        if (checkpointNow) {
          if (endOfEpoch) cursor = { ...cursor, epoch: epoch + 1 };
          await save();
        }
      }
      cursor = { ...cursor, epoch: epoch + 1 };
    }
  } finally {
    metrics.close();
    progress.finish();
  }
  const trainSeconds = (performance.now() - trainStarted) / 1000;
  await save();

  // Read after training: for a streamed corpus this reads its first shards back into memory.
  let evalTrain: ImageSet | null = null;
  const trainImages = async (): Promise<ImageSet> =>
    (evalTrain ??= await evaluationTrainSet(corpus.train, config.limit));
  let test: Record<string, number> | null = null;
  if (config.eval && testSet) {
    log(`evaluating on ${testSet.count} test images`);
    test = {
      ...(await evaluateModel(model, params, {
        train: await trainImages(),
        test: testSet,
        seed: config.seed,
      })),
    };
  } else if (config.eval) {
    log(`no test split in ${corpus.source} (give --test-data): the test block is left empty`);
  }
  let pictures: string[] = [];
  if (config.pictures) {
    const shown = testSet ?? (await trainImages());
    const written = await writePictures(model, params, {
      test: config.testLimit > 0 ? limitSet(shown, config.testLimit) : shown,
      outDir: config.out,
      rng: new Rng(deriveSeed(config.seed, SEED_STREAM.eval)),
    });
    pictures = written.map((w) => w.file);
  }

  const imagesThisRun = cursor.imagesSeen - startImages;
  const summary: TrainingSummary = {
    model: model.kind,
    hyper: config.hyper,
    dataset: corpus.source,
    backend: backend.name,
    workers: 1,
    seed: config.seed,
    batch_size: batchSize,
    epochs: config.epochs,
    steps: cursor.step,
    images_seen: cursor.imagesSeen,
    wall_seconds: (performance.now() - started) / 1000,
    train_seconds: trainSeconds,
    images_per_second: trainSeconds > 0 ? imagesThisRun / trainSeconds : 0,
    final_train_loss: lastLoss,
    param_stats: paramStats(params),
    resumed_from_step: resumedFrom,
    test,
    pictures,
  };
  await writeFileAtomic(join(config.out, 'summary.json'), JSON.stringify(summary, null, 2) + '\n');
  log(
    `done: ${cursor.step} steps, final train loss ${lastLoss.toFixed(4)}; wrote ${join(config.out, 'summary.json')}`,
  );
  return summary;
}
