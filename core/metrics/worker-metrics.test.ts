import assert from 'node:assert/strict';
import { test } from 'node:test';
import { scrapeOnce } from './scrape-once.js';
import { createWorkerMetrics } from './worker-metrics.js';

const who = { job: 'mnist-ae', rank: 2, model: 'autoencoder' };
const labels = { harmonium_job: 'mnist-ae', rank: '2', model: 'autoencoder', role: 'worker' };

test('steps, all-reduces and digest checks show up on /metrics with the worker labels', async () => {
  const m = createWorkerMetrics(who);
  m.recordStep({ step: 1, seconds: 0.02, images: 64, loss: 0.5, phase: 0 });
  m.recordStep({ step: 2, seconds: 3, images: 32, phase: 1 });
  m.recordAllreduce({ seconds: 0.004, exposedSeconds: 0.001, bytes: 4096 });
  m.recordAllreduce({ seconds: 0.006, exposedSeconds: 0.002, bytes: 4096 });
  m.recordDigestCheck(true);

  const s = await scrapeOnce(m.registry);
  assert.match(s.contentType, /^text\/plain; version=0\.0\.4/);
  assert.equal(s.value('harmonium_images_processed_total', labels), 96);
  assert.equal(s.value('harmonium_step', labels), 2);
  assert.equal(s.value('harmonium_phase', labels), 1);
  // The second step logged no loss: the gauge keeps the last logged one.
  assert.equal(s.value('harmonium_loss', labels), 0.5);
  assert.equal(s.value('harmonium_step_duration_seconds_count', labels), 2);
  assert.equal(s.value('harmonium_step_duration_seconds_sum', labels), 3.02);
  assert.equal(s.value('harmonium_step_duration_seconds_bucket', { ...labels, le: '0.001' }), 0);
  assert.equal(s.value('harmonium_step_duration_seconds_bucket', { ...labels, le: '0.025' }), 1);
  assert.equal(s.value('harmonium_step_duration_seconds_bucket', { ...labels, le: '30' }), 2);
  assert.equal(s.value('harmonium_allreduce_duration_seconds_count', labels), 2);
  assert.equal(s.value('harmonium_allreduce_duration_seconds_bucket', { ...labels, le: '0.005' }), 1);
  assert.equal(s.value('harmonium_allreduce_bytes_total', labels), 8192);
  assert.ok(Math.abs(s.value('harmonium_allreduce_exposed_seconds_total', labels)! - 0.003) < 1e-12);
  assert.equal(s.value('harmonium_replica_digest_checks_total', { ...labels, outcome: 'match' }), 1);
  assert.equal(s.value('harmonium_replica_digest_checks_total', { ...labels, outcome: 'mismatch' }), 0);
  // Default process metrics are on the same registry, with the same labels.
  assert.ok(s.value('process_cpu_user_seconds_total', labels)! > 0);
  assert.ok(s.value('nodejs_heap_size_used_bytes', labels)! > 0);
});

test('no loss sample until a loss is logged; a diverged loss is exported as NaN', async () => {
  const m = createWorkerMetrics(who);
  m.recordStep({ step: 0, seconds: 0.01, images: 8 });
  assert.equal((await scrapeOnce(m.registry)).value('harmonium_loss'), undefined);
  m.recordStep({ step: 1, seconds: 0.01, images: 8, loss: NaN });
  assert.ok(Number.isNaN((await scrapeOnce(m.registry)).value('harmonium_loss')));
});

test('two workers in one process keep separate registries', async () => {
  const a = createWorkerMetrics({ ...who, rank: 0 });
  const b = createWorkerMetrics({ ...who, rank: 1 });
  a.recordStep({ step: 1, seconds: 0.01, images: 10 });
  b.recordStep({ step: 1, seconds: 0.01, images: 20 });
  assert.equal((await scrapeOnce(a.registry)).value('harmonium_images_processed_total', { rank: '0' }), 10);
  const sb = await scrapeOnce(b.registry);
  assert.equal(sb.value('harmonium_images_processed_total', { rank: '1' }), 20);
  assert.equal(sb.value('harmonium_images_processed_total', { rank: '0' }), undefined);
});
