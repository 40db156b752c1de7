import { selectBackend, BACKEND_CHOICES, type BackendChoice } from '../compute/backend.js';
import { limitSet, pixelsPerImage } from '../data/corpus.js';
import { evaluationTrainSet, openCorpus, openTestSet, shardHttpOptions } from '../data/open-corpus.js';
import { CheckpointError, ConfigError } from '../errors.js';
import { evaluateModel } from '../eval/evaluate.js';
import type { HyperValues } from '../models/hyper.js';
import { findModel } from '../models/registry.js';
import { assertCheckpointFits, readCheckpoint } from './checkpoint.js';

export interface EvaluateCheckpointOptions {
  readonly checkpoint: string;
  /** Corpus to evaluate on; default the one the checkpoint was trained on. */
  readonly data?: string;
  /**
   * Test set (the forms of `data`); '' means the held-out split of `data`. Default: the one the
   * checkpoint was evaluated on, unless `data` is given.
   */
  readonly testData?: string;
  readonly testLimit?: number;
  readonly backend?: string;
  /**
   * Hyperparameters that change only the evaluation, over the checkpoint's (e.g. the RBM's
   * `ais-betas`); the model's own checks apply.
   */
  readonly hyper?: HyperValues;
}

function snapshotField<T>(
  config: Readonly<Record<string, unknown>>,
  field: string,
  dir: string,
  fallback?: T,
): T {
  const v = config[field];
  if (v === undefined) {
    if (fallback !== undefined) return fallback;
    throw new CheckpointError('CHECKPOINT_INVALID', `checkpoint ${dir}: config snapshot has no "${field}"`);
  }
  return v as T;
}

/**
 * Recomputes the `test` block of summary.json from a checkpoint: rebuilds the model from the
 * checkpoint's kind and hyperparameters, reopens its corpus (or `data`) and test set (or
 * `testData`) and evaluates the weights. A shard corpus is not read whole: evaluation fits on its
 * first training images (evaluationTrainSet).
 */
export async function evaluateCheckpoint(opts: EvaluateCheckpointOptions): Promise<Record<string, number>> {
  const backend = (opts.backend ?? 'auto') as BackendChoice;
  if (!BACKEND_CHOICES.includes(backend)) {
    throw new ConfigError(
      'backend',
      `expected one of ${BACKEND_CHOICES.join(', ')}, got ${JSON.stringify(backend)}`,
    );
  }
  if (opts.testLimit !== undefined && !(Number.isInteger(opts.testLimit) && opts.testLimit >= 0)) {
    throw new ConfigError('test-limit', `expected a whole number >= 0, got ${opts.testLimit}`);
  }
  await selectBackend(backend);
  const dir = opts.checkpoint;
  const ckpt = await readCheckpoint(dir);
  const cfg = ckpt.config;
  const data = opts.data ?? snapshotField<string>(cfg, 'data', dir);
  const imageShape = {
    height: snapshotField<number>(cfg, 'image-height', dir, 28),
    width: snapshotField<number>(cfg, 'image-width', dir, 28),
    channels: snapshotField<number>(cfg, 'image-channels', dir, 1),
  };
  const http = shardHttpOptions({});
  const corpus = await openCorpus(data, { imageShape, http });
  // The checkpoint's test-data belongs to its own corpus: another `data` brings its own test split.
  const testData =
    opts.testData ?? (opts.data === undefined ? snapshotField<string>(cfg, 'test-data', dir, '') : '');
  const testFull =
    testData === '' ? corpus.test : await openTestSet(testData, corpus.train.shape, { imageShape, http });
  if (!testFull) {
    throw new ConfigError('data', `${corpus.source} has no test split to evaluate on (give --test-data)`);
  }
  const entry = findModel(ckpt.modelKind);
  for (const key of Object.keys(opts.hyper ?? {})) {
    if (!entry.hypers.some((h) => h.name === key)) {
      throw new ConfigError(key, `model ${entry.kind} has no option --${key}`);
    }
  }
  const model = entry.create(pixelsPerImage(corpus.train.shape), {
    ...(ckpt.hyper as HyperValues),
    ...opts.hyper,
  });
  assertCheckpointFits(ckpt, { kind: model.kind, paramSpecs: model.paramSpecs });
  const limit = snapshotField<number>(cfg, 'limit', dir, 0);
  const train = await evaluationTrainSet(corpus.train, limit);
  const testLimit = opts.testLimit ?? 0;
  const test = testLimit > 0 ? limitSet(testFull, testLimit) : testFull;
  return { ...(await evaluateModel(model, ckpt.params, { train, test, seed: ckpt.seed })) };
}
