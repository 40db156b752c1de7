/**
 * The jobs the end-to-end tests and benchmarks submit: a small autoencoder long enough to disturb
 * mid-training, and a job of a few steps, as CLI words and as the JSON options a client sends; and
 * how far a job's records got.
 */
import { join } from 'node:path';
import { readMetricsLog } from '../core/train/metrics-log.js';

/** The committed step of the last record in `out`'s metrics.jsonl (0 before any). */
export function loggedStep(out: string): number {
  // readMetricsLog skips a line the coordinator is still writing.
  const records = readMetricsLog(join(out, 'metrics.jsonl'));
  return records.length > 0 ? records[records.length - 1]!.step : 0;
}

/** Images, global batch and steps per epoch of {@link smallAeJob}. */
export const SMALL_AE = { limit: 3000, batch: 60, stepsPerEpoch: 50 } as const;

/**
 * A 64-16 autoencoder on 3,000 images, batch 60 (50 steps an epoch), every step's samples audited:
 * with its default Adam, runs on 1 and 3 workers end 3e-7 apart after 200 steps (a sigmoid net on
 * SGD with momentum 0.9 and lr 0.1 is chaotic: 1.3 apart).
 */
export function smallAeJob(epochs: number, opts: { logEvery: number; digestEvery?: number }): string[] {
  return [
    '--model',
    'ae',
    '--layers',
    '64,16',
    '--limit',
    String(SMALL_AE.limit),
    '--batch-size',
    String(SMALL_AE.batch),
    '--epochs',
    String(epochs),
    '--test-limit',
    '100',
    '--no-pictures',
    '--log-every',
    String(opts.logEvery),
    ...(opts.digestEvery ? ['--digest-every', String(opts.digestEvery)] : []),
    '--audit-samples',
  ];
}

/** Job-file options of a 5-step job (a 16-4 autoencoder on 300 images), as a client sends them. */
export const TINY_JOB_OPTIONS = {
  model: 'ae',
  layers: [16, 4],
  limit: 300,
  'batch-size': 60,
  epochs: 1,
  'test-limit': 50,
  pictures: false,
} as const;

/** {@link TINY_JOB_OPTIONS} as CLI words, writing to `out`. */
export function tinyJob(out: string): string[] {
  return [
    '--model',
    'ae',
    '--layers',
    '16,4',
    '--limit',
    '300',
    '--batch-size',
    '60',
    '--epochs',
    '1',
    '--test-limit',
    '50',
    '--no-pictures',
    '--out',
    out,
  ];
}
