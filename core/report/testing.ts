/** Helpers for the report tests (not used by the library): summary.json files shaped like real ones. */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import type { TrainingSummary } from '../train/run-results.js';

/** A fresh temporary directory. */
export const tmp = (): string => mkdtempSync(join(tmpdir(), 'harmonium-report-'));

/**
 * The summary.json of `harmonium train --model ae --layers 64,16 --epochs 1 --limit 2000
 * --test-limit 500` (native backend), as written.
 */
export function aeSummary(over: Partial<TrainingSummary> = {}): TrainingSummary {
  return {
    model: 'ae',
    hyper: {
      layers: [64, 16],
      activation: 'sigmoid',
      'code-activation': 'linear',
      tied: false,
      loss: 'cross-entropy',
    },
    dataset: 'Fashion-MNIST',
    backend: 'native',
    threads: 2,
    backend_detail: 'OpenBLAS 0.3.21 NO_LAPACKE DYNAMIC_ARCH NO_AFFINITY Cooperlake MAX_THREADS=64',
    workers: 1,
    seed: 1,
    batch_size: 100,
    epochs: 1,
    steps: 20,
    images_seen: 2000,
    wall_seconds: 1.891564427,
    train_seconds: 0.1443870649999999,
    images_per_second: 13851.65631007183,
    final_train_loss: 469.6007476806641,
    param_stats: { count: 103328, l2: 17.58837657542709, sum: -496.1996831690849 },
    resumed_from_step: null,
    generation: 0,
    world_sizes: [{ from_step: 0, workers: 1 }],
    failures: [],
    steps_redone: 0,
    test: {
      sse_per_image: 88.18286329434422,
      mse_per_pixel: 0.1124781419570717,
      pca_sse_per_image: 15.910993515241108,
      pca_mse_per_pixel: 0.02029463458576672,
      pca_fit_images: 2000,
      raw_probe_accuracy: 0.814,
      probe_accuracy: 0.682,
      reconstruction_loss: 449.96575,
    },
    pictures: ['reconstructions.png', 'filters.png', 'latent-scatter.png', 'interpolation.png'],
    ...over,
  };
}

/** The summary.json of `harmonium train --model rbm --hidden 20 --epochs 1 --limit 2000 --test-limit 500`. */
export function rbmSummary(over: Partial<TrainingSummary> = {}): TrainingSummary {
  return {
    model: 'rbm',
    hyper: { hidden: 20, k: 1, persistent: false, 'weight-decay': 0.0002, 'sample-steps': 1000 },
    dataset: 'Fashion-MNIST',
    backend: 'native',
    threads: 2,
    backend_detail: 'OpenBLAS 0.3.21 NO_LAPACKE DYNAMIC_ARCH NO_AFFINITY Cooperlake MAX_THREADS=64',
    workers: 1,
    seed: 1,
    batch_size: 100,
    epochs: 1,
    steps: 20,
    images_seen: 2000,
    wall_seconds: 12.474440498999998,
    train_seconds: 0.08814348100000007,
    images_per_second: 22690.277004149615,
    final_train_loss: 65.73015478515626,
    param_stats: { count: 16484, l2: 18.239621848238517, sum: -1183.9957740088284 },
    resumed_from_step: null,
    generation: 0,
    world_sizes: [{ from_step: 0, workers: 1 }],
    failures: [],
    steps_redone: 0,
    test: {
      sse_per_image: 60.646462084941135,
      mse_per_pixel: 0.07735518123079227,
      pca_sse_per_image: 14.597242431817966,
      pca_mse_per_pixel: 0.0186189316732372,
      pca_fit_images: 2000,
      raw_probe_accuracy: 0.814,
      probe_accuracy: 0.558,
      pseudo_log_likelihood: -360.3455,
      log_likelihood_nats: -414.21324288841396,
      log_partition: 410.35451502891686,
    },
    pictures: [
      'reconstructions.png',
      'samples.png',
      'filters.png',
      'latent-scatter.png',
      'interpolation.png',
    ],
    ...over,
  };
}

/**
 * Writes a run directory `root/rel` the way `harmonium train` leaves it: summary.json (as
 * JSON.stringify(summary, null, 2), or `raw` text as given) and a small file for each picture it
 * lists, except those in `omit`.
 */
export function writeRun(
  root: string,
  rel: string,
  summary: TrainingSummary | string,
  omit: readonly string[] = [],
): string {
  const dir = join(root, rel);
  mkdirSync(dir, { recursive: true });
  const text = typeof summary === 'string' ? summary : JSON.stringify(summary, null, 2) + '\n';
  writeFileSync(join(dir, 'summary.json'), text);
  if (typeof summary !== 'string') {
    for (const p of summary.pictures) {
      if (!omit.includes(p)) writeFileSync(join(dir, p), 'png');
    }
  }
  return dir;
}

/**
 * The cells of a GitHub Markdown table row, split at the pipes that are not escaped, with `\|`
 * read back as `|`. Throws if `line` is not a row.
 */
export function markdownRowCells(line: string): string[] {
  if (!line.startsWith('| ') || !line.endsWith(' |')) throw new Error(`not a table row: ${line}`);
  const cells: string[] = [];
  let cell = '';
  for (let i = 1; i < line.length - 1; i++) {
    const c = line[i]!;
    if (c === '\\' && i + 1 < line.length - 1) {
      const next = line[i + 1]!;
      cell += next === '|' ? '|' : c + next;
      i++;
    } else if (c === '|') {
      cells.push(cell.trim());
      cell = '';
    } else {
      cell += c;
    }
  }
  cells.push(cell.trim());
  return cells;
}
