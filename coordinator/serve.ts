/**
 * `harmonium coordinator`: a long-running coordinator that workers join and clients submit jobs
 * to; it runs until SIGINT or SIGTERM. With `--nats` its jobs live in JetStream: a coordinator
 * started on the same NATS takes up every job the last one left, queued or running, and the
 * running ones go on without restarting a worker. Without it, a signal cancels what is in flight.
 */
import { resolve } from 'node:path';
import { Registry } from 'prom-client';
import type { ControlStore } from '../core/control-plane/control-store.js';
import { JetStreamControlStore } from '../core/control-plane/jetstream-control-store.js';
import { MemoryControlStore } from '../core/control-plane/memory-control-store.js';
import { serveMetrics, type MetricsServer } from '../core/metrics/metrics-server.js';
import { Coordinator } from './coordinator.js';
import { startCoordinatorServer } from './coordinator-server.js';
import { JobIntake } from './job-intake.js';
import { JobJournal } from './job-journal.js';
import { parseJobRecord, type JobRecord } from './job-record.js';

/** Where the coordinator serves. */
export interface ServeOptions {
  readonly host: string;
  readonly port: number;
  /** /metrics port of the running job's metrics; 0 for none. */
  readonly metricsPort: number;
  /** NATS servers whose JetStream keeps the coordinator's state; '' for memory only. */
  readonly nats: string;
  /** Directory every submitted job's output goes under; default `runs`. */
  readonly runsDir?: string;
  /** How long the workers of a job taken up from the store have to join again; default 30 s. */
  readonly adoptGraceMs?: number;
  readonly log?: (line: string) => void;
}

/** The readable records of `store`; an unreadable one is reported and left where it is. */
async function loadRecords(store: ControlStore, log: (line: string) => void): Promise<JobRecord[]> {
  const out: JobRecord[] = [];
  for (const r of await store.loadJobs()) {
    try {
      out.push(parseJobRecord(r.value, r.key));
    } catch (err) {
      log(`coordinator: skipping a job record: ${(err as Error).message}`);
    }
  }
  return out;
}

/** Serves until a signal arrives. */
export async function serveCoordinator(opts: ServeOptions): Promise<void> {
  const log = opts.log ?? ((line: string) => console.error(line));
  const runsDir = resolve(opts.runsDir ?? 'runs');
  const store: ControlStore =
    opts.nats === '' ? new MemoryControlStore() : await JetStreamControlStore.open(opts.nats);
  let deposed: Error | null = null;
  let onDeposed: () => void = () => undefined;
  const deposed$ = new Promise<void>((r) => (onDeposed = r));
  const journal = store.durable
    ? new JobJournal(store, {
        log,
        onDeposed: (err) => {
          deposed = err;
          log(`coordinator: another coordinator wrote this one's records (${err.message}); stopping`);
          onDeposed();
        },
      })
    : null;
  const loaded = await store.loadJobs();
  for (const r of loaded) journal?.loaded(r.key, r.value, r.revision);
  const coordinator = new Coordinator({
    log,
    events: {
      publish: (e) => store.publishEvent(e.job, e.kind, JSON.stringify(e)),
      close: () => Promise.resolve(),
    },
    ...(journal ? { journal } : {}),
    ...(opts.adoptGraceMs !== undefined ? { adoptGraceMs: opts.adoptGraceMs } : {}),
  });
  if (store.durable) coordinator.restore(await loadRecords(store, log));
  const intake = new JobIntake({ coordinator, store, journal, runsDir, log });
  const server = await startCoordinatorServer(coordinator, {
    host: opts.host,
    port: opts.port,
    runsDir,
    intake,
  });
  let metrics: MetricsServer | null = null;
  const empty = new Registry();
  if (opts.metricsPort > 0) {
    metrics = await serveMetrics(() => coordinator.metrics?.registry ?? empty, {
      host: opts.host,
      port: opts.metricsPort,
    });
  }
  if (store.durable) {
    const open = coordinator.allJobs.filter((j) => !j.terminal).length;
    log(
      `coordinator: state in ${store.where}; ${loaded.length} job record(s), ${open} not ended; job outputs go under ${runsDir}`,
    );
  } else {
    log(
      `coordinator: jobs and workers are kept in this process's memory only (no --nats): ` +
        `queued and running jobs are lost when it stops; job outputs go under ${runsDir}`,
    );
  }
  log(`coordinator listening on ${server.address}${metrics ? `; metrics on port ${metrics.port}` : ''}`);
  const signal = await new Promise<NodeJS.Signals | 'deposed'>((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
    void deposed$.then(() => resolve('deposed'));
  });
  // With a durable store the jobs belong to whoever serves next; in memory they end here.
  if (!store.durable) {
    for (const job of coordinator.allJobs) coordinator.cancel(job.id, `coordinator stopped by ${signal}`);
  }
  await journal?.flushAll();
  await metrics?.close();
  await server.close();
  await store.close();
  if (deposed) throw deposed;
}
