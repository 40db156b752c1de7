/**
 * Training in one process (`--workers 1`): the setup, loop and results every cluster rank runs
 * too, with a {@link LocalHost} that writes checkpoints and metrics.jsonl directly.
 */
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import type { JobConfig } from '../config/job-config.js';
import { deriveSeed, Rng } from '../data/rng.js';
import { ConfigError } from '../errors.js';
import { serveMetrics } from '../metrics/metrics-server.js';
import { createWorkerMetrics } from '../metrics/worker-metrics.js';
import { loadCheckpointState } from './resume.js';
import { LocalHost } from './local-host.js';
import { truncateMetricsLog } from './metrics-log.js';
import { ProgressReporter, type ProgressStream } from './progress.js';
import { writeRunResults, type TrainingSummary } from './run-results.js';
import { setUpRun } from './run-setup.js';
import { truncateSamplesLog } from './samples-log.js';
import { runTrainingLoop, SEED_STREAM, type LoopResult } from './training-loop.js';
import { describePhases } from './training-phases.js';
import { TrainingState, type LoopStart } from './training-state.js';
import { stderrLog, type Log } from '../logging/log.js';

export type { TrainingSummary } from './run-results.js';

export interface TrainingIo {
  /** Progress bar / log lines; default stderr. */
  readonly progress?: ProgressStream;
  /** One-off messages; default stderr in the process's log format. */
  readonly log?: Log;
}

/**
 * Trains one model in this process, as the config says: opens the corpus (held in memory, or
 * streamed shard by shard for `shards:DIR`), initialises (or resumes from `<out>/checkpoint`), runs
 * the epochs with checkpoints and metrics.jsonl, then evaluates on the test set and writes pictures
 * and summary.json. Labels are passed to evaluation only.
 */
export async function runTraining(config: JobConfig, io: TrainingIo = {}): Promise<TrainingSummary> {
  const log = io.log ?? stderrLog('trainer');
  const started = performance.now();
  const setup = await setUpRun(config);
  const { model } = setup;

  mkdirSync(config.out, { recursive: true });
  const ckptDir = join(config.out, 'checkpoint');
  const metricsPath = join(config.out, 'metrics.jsonl');
  const samplesPath = join(config.out, 'samples.jsonl');
  let start: LoopStart;
  let resumedFrom: number | null = null;
  if (config.resume) {
    if (!existsSync(ckptDir)) throw new ConfigError('resume', `no checkpoint at ${ckptDir} to resume from`);
    start = await loadCheckpointState(setup, ckptDir);
    resumedFrom = start.cursor.step;
    truncateMetricsLog(metricsPath, start.cursor.step);
    truncateSamplesLog(samplesPath, start.cursor.step);
    log(`resuming ${model.kind} from ${ckptDir} at step ${start.cursor.step} (epoch ${start.cursor.epoch})`);
  } else {
    start = {
      params: model.init(new Rng(deriveSeed(config.seed, SEED_STREAM.init))),
      cursor: { epoch: 0, step: 0, imagesSeen: 0 },
    };
    rmSync(metricsPath, { force: true });
    rmSync(samplesPath, { force: true });
  }
  log(
    `training ${model.kind} on ${setup.corpus.source} (${setup.source.describe}; ${model.paramSpecs.length} tensors, ` +
      `${start.params.length} parameters) for ${describePhases(setup.phases)} of ${setup.stepsPerEpoch} steps, backend ${setup.backend.name}`,
  );
  // Alone, the process is worker rank 0 of its own job, and serves that worker's metrics.
  const metrics =
    config.metricsPort > 0
      ? createWorkerMetrics({ job: basename(resolve(config.out)), rank: 0, model: model.kind })
      : null;
  const metricsServer = metrics
    ? await serveMetrics(metrics.registry, { host: '127.0.0.1', port: config.metricsPort })
    : null;
  const host = new LocalHost(
    config.out,
    config.auditSamples,
    metrics
      ? (info) =>
          metrics.recordStep({
            step: info.step,
            seconds: info.stepSeconds,
            images: info.rankImages,
            loss: info.loss,
            phase: info.phase,
          })
      : null,
  );
  const progress = new ProgressReporter({
    totalSteps: setup.totalSteps,
    startStep: start.cursor.step,
    startImages: start.cursor.imagesSeen,
    ...(io.progress ? { stream: io.progress } : {}),
  });
  const state = new TrainingState(setup, start);
  const share = setup.source.shareOf(0, 1);
  state.restore(share);
  let loop: LoopResult;
  try {
    loop = await runTrainingLoop(setup, state, {
      host,
      group: null,
      share,
      progress,
      digestEvery: 0,
      collectiveTimeoutMs: config.collectiveTimeout * 1000,
    });
  } finally {
    host.close();
    await metricsServer?.close();
  }
  const summary = await writeRunResults(
    setup,
    {
      params: state.params,
      loop: { ...loop, cursor: state.cursor },
      workers: 1,
      startImages: start.cursor.imagesSeen,
      resumedFrom,
      started,
      log,
    },
    config.out,
  );
  log(
    `done: ${state.cursor.step} steps, final train loss ${loop.lastLoss.toFixed(4)}; wrote ${join(config.out, 'summary.json')}`,
  );
  return summary;
}
