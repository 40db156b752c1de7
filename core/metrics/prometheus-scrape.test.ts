/**
 * End to end against a real Prometheus server (the Debian package `prometheus`): it scrapes our
 * /metrics endpoint and its query API must return what the worker recorded. Without the binary
 * the test is skipped, except under CI, which installs the package and so must not skip silently.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { test } from 'node:test';
import { serveMetrics } from './metrics-server.js';
import { createWorkerMetrics } from './worker-metrics.js';
import { freePort } from '../../test/free-port.js';

const PROMETHEUS = findExecutable('prometheus');
const SKIP =
  PROMETHEUS === undefined && !process.env.CI
    ? 'no prometheus binary on PATH (apt-get install prometheus); under CI this fails instead'
    : false;
/** Long enough for Prometheus to start and scrape a few times at a 1 s interval. */
const DEADLINE_MS = 15_000;

function findExecutable(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const path = join(dir, name);
    try {
      accessSync(path, constants.X_OK);
      return path;
    } catch {
      // Not in this PATH entry; try the next.
    }
  }
  return undefined;
}

async function stop(child: ChildProcess, exited: Promise<unknown>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const gaveUp = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), 5_000);
  });
  if ((await Promise.race([exited, gaveUp])) === 'timeout') {
    child.kill('SIGKILL');
    await exited;
  }
  clearTimeout(timer);
}

interface QueryResponse {
  status: string;
  data?: { result?: { metric: Record<string, string>; value: [number, string] }[] };
}

test(
  'a real Prometheus scrapes harmonium_images_processed_total from /metrics',
  { skip: SKIP, timeout: 30_000 },
  async () => {
    assert.ok(
      PROMETHEUS,
      'CI is set but no prometheus binary is on PATH: .ci/run must apt-get install prometheus',
    );
    const metrics = createWorkerMetrics({ job: 'prom-e2e', rank: 3, model: 'rbm' });
    metrics.recordStep({ step: 1, seconds: 0.05, images: 100, loss: 1.5 });
    metrics.recordStep({ step: 2, seconds: 0.05, images: 23 });
    const server = await serveMetrics(metrics.registry, { host: '127.0.0.1', port: 0 });
    const dir = mkdtempSync(join(tmpdir(), 'harmonium-prometheus-'));
    let prometheus: ChildProcess | undefined;
    let exited: Promise<unknown> = Promise.resolve();
    let log = '';
    try {
      const config = join(dir, 'prometheus.yml');
      // honor_labels keeps our `job` label; without it Prometheus would rename it `exported_job`
      // and put the scrape job's name in `job`.
      writeFileSync(
        config,
        [
          'global:',
          '  scrape_interval: 1s',
          'scrape_configs:',
          '  - job_name: harmonium',
          '    honor_labels: true',
          '    static_configs:',
          `      - targets: ['127.0.0.1:${server.port}']`,
          '',
        ].join('\n'),
      );
      const port = await freePort();
      prometheus = spawn(
        PROMETHEUS,
        [
          `--config.file=${config}`,
          `--storage.tsdb.path=${join(dir, 'data')}`,
          `--web.listen-address=127.0.0.1:${port}`,
        ],
        { stdio: ['ignore', 'ignore', 'pipe'] },
      );
      const child = prometheus;
      exited = new Promise((resolve) => child.once('exit', resolve));
      // Only the tail: it is what explains a failure, and Prometheus logs every start-up step.
      child.stderr?.on('data', (chunk: Buffer) => {
        log = (log + chunk.toString()).slice(-4000);
      });

      const url = `http://127.0.0.1:${port}/api/v1/query?query=harmonium_images_processed_total`;
      const deadline = Date.now() + DEADLINE_MS;
      let last = 'no answer yet';
      for (;;) {
        if (child.exitCode !== null) assert.fail(`prometheus exited with ${child.exitCode}:\n${log}`);
        try {
          const body = (await (await fetch(url)).json()) as QueryResponse;
          const sample = body.data?.result?.[0];
          if (sample !== undefined) {
            assert.equal(sample.value[1], '123');
            assert.equal(sample.metric.job, 'prom-e2e');
            assert.equal(sample.metric.rank, '3');
            assert.equal(sample.metric.model, 'rbm');
            return;
          }
          last = JSON.stringify(body);
        } catch (err) {
          // Prometheus refuses connections until it has started.
          if (err instanceof assert.AssertionError) throw err;
          last = String(err);
        }
        if (Date.now() > deadline) {
          assert.fail(`Prometheus had not scraped us after ${DEADLINE_MS} ms; last answer: ${last}\n${log}`);
        }
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    } finally {
      if (prometheus !== undefined) await stop(prometheus, exited);
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
