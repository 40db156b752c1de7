import assert from 'node:assert/strict';
import { test } from 'node:test';

import { formatTestFigure, orderTestKeys, TEST_FIGURE_ORDER } from './test-figures.js';

test('known figures come first in their order, the rest alphabetically, without duplicates', () => {
  const keys = orderTestKeys([
    'zeta',
    'pseudo_log_likelihood',
    'mse_per_pixel',
    'probe_accuracy',
    'sse_per_image',
    'ais_log_z_sd',
    'alpha',
    'sse_per_image',
    'classifier_frechet_distance',
    'pca_sse_per_image',
    'neg_elbo_nats',
  ]);
  assert.deepEqual(keys, [
    'sse_per_image',
    'pca_sse_per_image',
    'probe_accuracy',
    'neg_elbo_nats',
    'pseudo_log_likelihood',
    'ais_log_z_sd',
    'classifier_frechet_distance',
    'alpha',
    'mse_per_pixel',
    'zeta',
  ]);
  assert.deepEqual(orderTestKeys([...TEST_FIGURE_ORDER].reverse()), TEST_FIGURE_ORDER);
});

test('accuracies print as percentages, other figures by size', () => {
  assert.equal(formatTestFigure('probe_accuracy', 0.682), '68.2 %');
  assert.equal(formatTestFigure('finetune_accuracy', 0.9), '90.0 %');
  assert.equal(formatTestFigure('sse_per_image', 88.18286), '88.18');
  assert.equal(formatTestFigure('kl_nats', 16.8), '16.80');
});
