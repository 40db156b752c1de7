/**
 * The figures of summary.json's `test` block as a report shows them: which come first, and how
 * each is printed (accuracies as percentages, the rest by size).
 */
import { formatFigure, formatPercent } from './number-format.js';

/**
 * Known test figures in report order: the reconstruction error and its PCA baseline, the probe and
 * its raw-pixel baseline, then the model-specific ones. Any other key follows, alphabetically.
 */
export const TEST_FIGURE_ORDER: readonly string[] = [
  'sse_per_image',
  'pca_sse_per_image',
  'probe_accuracy',
  'raw_probe_accuracy',
  'neg_elbo_nats',
  'kl_nats',
  'reconstruction_nats',
  'pseudo_log_likelihood',
  'log_likelihood_nats',
  'log_partition',
  'ais_log_likelihood_nats',
  'ais_log_z_sd',
  'finetune_accuracy',
  'finetune_random_init_accuracy',
  'classifier_frechet_distance',
  'classifier_frechet_distance_train_test',
  'sample_class_coverage',
  'sample_class_entropy_bits',
];

const RANK = new Map(TEST_FIGURE_ORDER.map((k, i) => [k, i]));

/** `keys` without duplicates, known figures in TEST_FIGURE_ORDER, then the others by code unit order. */
export function orderTestKeys(keys: Iterable<string>): string[] {
  return [...new Set(keys)].sort((a, b) => {
    const ra = RANK.get(a) ?? Infinity;
    const rb = RANK.get(b) ?? Infinity;
    if (ra !== rb) return ra < rb ? -1 : 1;
    return a < b ? -1 : a > b ? 1 : 0;
  });
}

/** Whether a figure is a fraction shown as a percentage (`probe_accuracy`, `finetune_accuracy`, ...). */
export function isAccuracy(key: string): boolean {
  return key.endsWith('_accuracy');
}

/** One test figure as printed: "68.2 %" for an accuracy, else by size ("88.18", "-414.2"). */
export function formatTestFigure(key: string, value: number | null): string {
  return isAccuracy(key) ? formatPercent(value) : formatFigure(value);
}
