/**
 * End to end against a real Prometheus server (the Debian package `prometheus`) with a plain scrape
 * config, as a shared Prometheus scrapes (no honor_labels): it scrapes our /metrics endpoint and its
 * query API must return what the worker recorded, our labels beside the target's own `job` and
 * `instance`. Without the binary the test is skipped, except under CI, which installs the package
 * and so must not skip silently.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { serveMetrics } from './metrics-server.js';
import { createWorkerMetrics } from './worker-metrics.js';
import { PROMETHEUS_SKIP, startPrometheus } from '../../test/prometheus.js';

test(
  'a real Prometheus scrapes harmonium_images_processed_total from /metrics, harmonium_job beside its own job label',
  { skip: PROMETHEUS_SKIP, timeout: 30_000 },
  async () => {
    const metrics = createWorkerMetrics({ job: 'prom-e2e', rank: 3, model: 'rbm' });
    metrics.recordStep({ step: 1, seconds: 0.05, images: 100, loss: 1.5 });
    metrics.recordStep({ step: 2, seconds: 0.05, images: 23 });
    const server = await serveMetrics(metrics.registry, { host: '127.0.0.1', port: 0 });
    const prometheus = await startPrometheus({ targets: [`127.0.0.1:${server.port}`] });
    try {
      const [sample, ...more] = await prometheus.waitFor('harmonium_images_processed_total', 15_000);
      assert.equal(more.length, 0);
      assert.equal(sample!.value![1], '123');
      assert.deepEqual(
        { ...sample!.metric },
        {
          __name__: 'harmonium_images_processed_total',
          // The target's labels, as Prometheus gives them, untouched by ours.
          job: 'harmonium',
          instance: `127.0.0.1:${server.port}`,
          harmonium_job: 'prom-e2e',
          role: 'worker',
          rank: '3',
          model: 'rbm',
        },
      );
    } finally {
      await prometheus.close();
      await server.close();
    }
  },
);
