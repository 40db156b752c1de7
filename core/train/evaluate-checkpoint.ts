import { selectBackend, BACKEND_CHOICES, type BackendChoice } from '../compute/backend.js';
import { limitSet, pixelsPerImage } from '../data/corpus.js';
import { openCorpus } from '../data/open-corpus.js';
import { CheckpointError, ConfigError } from '../errors.js';
import { evaluateModel } from '../eval/evaluate.js';
import type { HyperValues } from '../models/hyper.js';
import { findModel } from '../models/registry.js';
import { assertCheckpointFits, readCheckpoint } from './checkpoint.js';

export interface EvaluateCheckpointOptions {
  readonly checkpoint: string;
  /** Corpus to evaluate on; default the one the checkpoint was trained on. */
  readonly data?: string;
  readonly testLimit?: number;
  readonly backend?: string;
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
 * checkpoint's kind and hyperparameters, reopens its corpus (or `data`) and evaluates the weights.
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
  const corpus = await openCorpus(data, {
    imageShape: {
      height: snapshotField<number>(cfg, 'image-height', dir, 28),
      width: snapshotField<number>(cfg, 'image-width', dir, 28),
      channels: snapshotField<number>(cfg, 'image-channels', dir, 1),
    },
  });
  if (!corpus.test) {
    throw new ConfigError('data', `${corpus.source} has no test split to evaluate on`);
  }
  const model = findModel(ckpt.modelKind).create(
    pixelsPerImage(corpus.train.shape),
    ckpt.hyper as HyperValues,
  );
  assertCheckpointFits(ckpt, { kind: model.kind, paramSpecs: model.paramSpecs });
  const limit = snapshotField<number>(cfg, 'limit', dir, 0);
  const train = limit > 0 ? limitSet(corpus.train, limit) : corpus.train;
  const testLimit = opts.testLimit ?? 0;
  const test = testLimit > 0 ? limitSet(corpus.test, testLimit) : corpus.test;
  return { ...(await evaluateModel(model, ckpt.params, { train, test, seed: ckpt.seed })) };
}
