/**
 * A real Prometheus server for tests (Debian's `prometheus`): a plain scrape config of static
 * targets (no honor_labels, as a shared Prometheus scrapes), its TSDB in a temporary directory, its
 * HTTP API on a free 127.0.0.1 port. Also finds `promtool` beside it.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';

import { freePort } from './free-port.js';

/** The path of executable `name` on PATH, or undefined. */
export function findExecutable(name: string): string | undefined {
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

export const PROMETHEUS = findExecutable('prometheus');
export const PROMTOOL = findExecutable('promtool');

/**
 * A test's `skip` without Prometheus: a reason outside CI; under CI (which installs the package)
 * false, so that the test runs and fails rather than skipping silently.
 */
export const PROMETHEUS_SKIP: string | false =
  (PROMETHEUS === undefined || PROMTOOL === undefined) && !process.env.CI
    ? 'no prometheus/promtool on PATH (apt-get install prometheus); under CI this fails instead'
    : false;

/** One series of an instant or range query. */
export interface Series {
  readonly metric: Record<string, string>;
  /** Instant queries. */
  readonly value?: [number, string];
  /** Range queries. */
  readonly values?: [number, string][];
}

/** A running Prometheus. */
export interface Prometheus {
  /** Base URL of its HTTP API, e.g. http://127.0.0.1:PORT. */
  readonly url: string;
  /** An instant query at `time` (seconds; default now); throws on an API error. */
  query(expr: string, time?: number): Promise<Series[]>;
  /** A range query over [start, end] (seconds) at `stepS`; throws on an API error. */
  queryRange(expr: string, start: number, end: number, stepS: number): Promise<Series[]>;
  /** Waits until `expr` returns at least one series, or fails after `timeoutMs` with the last answer. */
  waitFor(expr: string, timeoutMs: number): Promise<Series[]>;
  /** The tail of its log, for failure messages. */
  log(): string;
  close(): Promise<void>;
}

/** Options of {@link startPrometheus}. */
export interface PrometheusOptions {
  /** host:port targets of one scrape job named `harmonium`. */
  readonly targets: readonly string[];
  readonly scrapeIntervalS?: number;
  /** Rule files Prometheus evaluates (at the scrape interval). */
  readonly ruleFiles?: readonly string[];
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

/** Starts Prometheus scraping `opts.targets`; close() stops it and removes its directory. */
export async function startPrometheus(opts: PrometheusOptions): Promise<Prometheus> {
  assert.ok(PROMETHEUS, 'no prometheus binary on PATH: apt-get install prometheus');
  const interval = opts.scrapeIntervalS ?? 1;
  const dir = mkdtempSync(join(tmpdir(), 'harmonium-prometheus-'));
  const config = join(dir, 'prometheus.yml');
  writeFileSync(
    config,
    [
      'global:',
      `  scrape_interval: ${interval}s`,
      `  evaluation_interval: ${interval}s`,
      ...(opts.ruleFiles?.length
        ? ['rule_files:', ...opts.ruleFiles.map((f) => `  - ${JSON.stringify(f)}`)]
        : []),
      'scrape_configs:',
      '  - job_name: harmonium',
      '    static_configs:',
      `      - targets: [${opts.targets.map((t) => `'${t}'`).join(', ')}]`,
      '',
    ].join('\n'),
  );
  const port = await freePort();
  const child = spawn(
    PROMETHEUS,
    [
      `--config.file=${config}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  const exited = new Promise((resolve) => child.once('exit', resolve));
  let log = '';
  // Only the tail: it is what explains a failure, and Prometheus logs every start-up step.
  child.stderr?.on('data', (chunk: Buffer) => {
    log = (log + chunk.toString()).slice(-4000);
  });
  const url = `http://127.0.0.1:${port}`;

  const api = async (path: string, params: Record<string, string>): Promise<Series[]> => {
    if (child.exitCode !== null) throw new Error(`prometheus exited with ${child.exitCode}:\n${log}`);
    const res = await fetch(`${url}${path}?${new URLSearchParams(params)}`, {
      signal: AbortSignal.timeout(10_000),
    });
    const body = (await res.json()) as { status: string; error?: string; data?: { result?: Series[] } };
    if (body.status !== 'success') throw new Error(`${params['query']}: ${body.error ?? res.status}`);
    return body.data?.result ?? [];
  };

  const prometheus: Prometheus = {
    url,
    query: (expr, time) =>
      api('/api/v1/query', { query: expr, ...(time === undefined ? {} : { time: String(time) }) }),
    queryRange: (expr, start, end, stepS) =>
      api('/api/v1/query_range', {
        query: expr,
        start: String(start),
        end: String(end),
        step: String(stepS),
      }),
    async waitFor(expr, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      let last = 'no answer yet';
      for (;;) {
        try {
          const result = await prometheus.query(expr);
          if (result.length > 0) return result;
          last = '[] (no series)';
        } catch (err) {
          // Refused until it has started.
          last = String(err);
        }
        if (child.exitCode !== null) assert.fail(`prometheus exited with ${child.exitCode}:\n${log}`);
        if (Date.now() > deadline)
          assert.fail(`${expr}: nothing after ${timeoutMs} ms; last answer: ${last}\n${log}`);
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    },
    log: () => log,
    async close() {
      await stop(child, exited);
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return prometheus;
}
