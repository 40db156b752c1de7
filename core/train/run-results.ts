/**
 * After the last step: the test block, the pictures and summary.json of a run, computed by the
 * process that trained alone or by rank 0 of a cluster (which hands the files to the coordinator).
 */
import { join } from 'node:path';
import { writeFileAtomic } from '../data/atomic-write.js';
import { limitSet, type ImageSet } from '../data/corpus.js';
import { evaluationTrainSet } from '../data/open-corpus.js';
import { deriveSeed, Rng } from '../data/rng.js';
import { evaluateModel } from '../eval/evaluate.js';
import { trainFeatureClassifier, type FeatureClassifier } from '../eval/feature-classifier.js';
import { writePictures } from '../viz/pictures.js';
import { paramStats, type ParamStats } from './param-stats.js';
import type { RunSetup } from './run-setup.js';
import type { DataCursor } from './checkpoint.js';
import { SEED_STREAM } from './training-loop.js';

/** What summary.json holds. */
export interface TrainingSummary {
  readonly model: string;
  readonly hyper: Readonly<Record<string, unknown>>;
  readonly dataset: string;
  readonly backend: string;
  /** Compute threads of each process (OpenBLAS's for the native backend); null where the library decides. */
  readonly threads: number | null;
  /** What computes underneath: the OpenBLAS build, the GPU adapter; absent when nothing to add. */
  readonly backend_detail?: string;
  readonly workers: number;
  readonly seed: number;
  readonly batch_size: number;
  /** Epochs of all phases together. */
  readonly epochs: number;
  /**
   * A model trained in stages: each phase with its epochs, steps and the seconds this process
   * spent in it (0 for phases run before a resume); absent for a model trained in one phase.
   */
  readonly phases?: readonly PhaseSummary[];
  readonly steps: number;
  readonly images_seen: number;
  readonly wall_seconds: number;
  readonly train_seconds: number;
  readonly images_per_second: number;
  readonly final_train_loss: number;
  readonly param_stats: ParamStats;
  readonly resumed_from_step: number | null;
  /** The last generation (group membership) of a cluster run; 0 for a process training alone. */
  readonly generation: number;
  /** The world size from each step on where it changed, in step order. */
  readonly world_sizes: readonly WorldSizeChange[];
  /** Every worker the job lost or that left it, in order. */
  readonly failures: readonly WorkerFailure[];
  /** Steps some rank computed that a failure kept from being committed, redone by the next generation. */
  readonly steps_redone: number;
  readonly test: Readonly<Record<string, number>> | null;
  readonly pictures: readonly string[];
}

/** summary.json `world_sizes`: the job trained with `workers` from step `from_step` on. */
export interface WorldSizeChange {
  readonly from_step: number;
  readonly workers: number;
}

/** Why a worker left a job: its process ended, its connection, its heartbeats stopped, or it said so. */
export type FailureReason = 'exited' | 'lost' | 'hung' | 'left';

/** summary.json `failures`: worker `worker_id`, rank `rank` of `generation`, left at `step`. */
export interface WorkerFailure {
  readonly worker_id: string;
  readonly rank: number;
  readonly generation: number;
  /** The last step the job had committed when the worker was lost. */
  readonly step: number;
  readonly reason: FailureReason;
}

/** A cluster run's membership history, as the coordinator kept it. */
export interface MembershipFacts {
  readonly generation: number;
  readonly worldSizes: readonly WorldSizeChange[];
  readonly failures: readonly WorkerFailure[];
  readonly stepsRedone: number;
}

/** What a training run's loops added up to, over every generation that ran it. */
export interface TrainingTotals {
  /** Where the run ended. */
  readonly cursor: DataCursor;
  /** Mean training loss of the last logged interval. */
  readonly lastLoss: number;
  readonly trainSeconds: number;
  /** Pictures handed to the host during training. */
  readonly pictures: readonly string[];
  /** Seconds spent in each phase, by phase index. */
  readonly phaseSeconds: readonly number[];
}

/** One training phase in summary.json. */
export interface PhaseSummary {
  readonly name: string;
  readonly epochs: number;
  readonly steps: number;
  readonly optimizer: string;
  readonly lr: number;
  readonly train_seconds: number;
}

/** Facts of the run that the loop does not know. */
export interface RunFacts {
  readonly params: Float32Array;
  readonly loop: TrainingTotals;
  /** Workers the run trained with at its end. */
  readonly workers: number;
  /** The membership history of a cluster run; absent for a process training alone. */
  readonly membership?: MembershipFacts;
  /** Images seen when this process started (non-zero when resumed). */
  readonly startImages: number;
  readonly resumedFrom: number | null;
  /** performance.now() when the run started. */
  readonly started: number;
  readonly log: (line: string) => void;
}

/**
 * Evaluates the model on the test set and writes the pictures and summary.json into `outDir`;
 * returns the summary.
 */
export async function writeRunResults(
  setup: RunSetup,
  facts: RunFacts,
  outDir: string,
): Promise<TrainingSummary> {
  const { model, config, corpus, testSet } = setup;
  const { params, loop, log } = facts;
  // Read after training: for a streamed corpus this reads its first shards back into memory.
  let evalTrain: ImageSet | null = null;
  const trainImages = async (): Promise<ImageSet> =>
    (evalTrain ??= await evaluationTrainSet(corpus.train, config.limit));
  // One classifier scores a generative model's samples and groups a GAN's codes for its pictures.
  let classifier: FeatureClassifier | null | undefined;
  const sampleClassifier = async (): Promise<FeatureClassifier | null> => {
    if (classifier !== undefined) return classifier;
    const train = await trainImages();
    classifier = null;
    if (model.sample && model.priorCodes && train.labels && train.count >= 2) {
      classifier = trainFeatureClassifier(train);
      log(`sample classifier: ${classifier.describe}`);
    }
    return classifier;
  };
  let test: Record<string, number> | null = null;
  if (config.eval && testSet) {
    log(`evaluating on ${testSet.count} test images`);
    const c = await sampleClassifier();
    test = {
      ...(await evaluateModel(model, params, {
        train: await trainImages(),
        test: testSet,
        seed: config.seed,
        ...(c ? { classifier: c } : {}),
      })),
    };
  } else if (config.eval) {
    log(`no test split in ${corpus.source} (give --test-data): the test block is left empty`);
  }
  let pictures: string[] = [];
  if (config.pictures) {
    const shown = testSet ?? (await trainImages());
    const c = !model.encode && model.priorCodes ? await sampleClassifier() : null;
    const written = await writePictures(model, params, {
      test: config.testLimit > 0 ? limitSet(shown, config.testLimit) : shown,
      outDir,
      rng: new Rng(deriveSeed(config.seed, SEED_STREAM.eval)),
      ...(c ? { classifier: c } : {}),
    });
    pictures = [...loop.pictures, ...written.map((w) => w.file)];
  }
  const imagesThisRun = loop.cursor.imagesSeen - facts.startImages;
  const lastPhase = setup.phases[setup.phases.length - 1]!;
  const summary: TrainingSummary = {
    model: model.kind,
    hyper: config.hyper,
    dataset: corpus.source,
    backend: setup.backend.name,
    threads: setup.backend.threads,
    ...(setup.backend.detail ? { backend_detail: setup.backend.detail } : {}),
    workers: facts.workers,
    seed: config.seed,
    batch_size: config.batchSize,
    epochs: lastPhase.firstEpoch + lastPhase.epochs,
    ...(setup.phases.length > 1
      ? {
          phases: setup.phases.map((p) => ({
            name: p.name,
            epochs: p.epochs,
            steps: p.steps,
            optimizer: p.training.optimizer,
            lr: p.training.lr,
            train_seconds: loop.phaseSeconds[p.index] ?? 0,
          })),
        }
      : {}),
    steps: loop.cursor.step,
    images_seen: loop.cursor.imagesSeen,
    wall_seconds: (performance.now() - facts.started) / 1000,
    train_seconds: loop.trainSeconds,
    images_per_second: loop.trainSeconds > 0 ? imagesThisRun / loop.trainSeconds : 0,
    final_train_loss: loop.lastLoss,
    param_stats: paramStats(params),
    resumed_from_step: facts.resumedFrom,
    generation: facts.membership?.generation ?? 0,
    world_sizes: facts.membership?.worldSizes ?? [
      { from_step: facts.resumedFrom ?? 0, workers: facts.workers },
    ],
    failures: facts.membership?.failures ?? [],
    steps_redone: facts.membership?.stepsRedone ?? 0,
    test,
    pictures,
  };
  await writeFileAtomic(join(outDir, 'summary.json'), JSON.stringify(summary, null, 2) + '\n');
  return summary;
}
