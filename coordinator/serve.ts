/**
 * `harmonium coordinator`: a long-running coordinator that workers join and clients submit jobs
 * to; it runs until SIGINT or SIGTERM, cancelling the job in flight on the way out.
 */
import { resolve } from 'node:path';
import { Registry } from 'prom-client';
import { serveMetrics, type MetricsServer } from '../core/metrics/metrics-server.js';
import { Coordinator } from './coordinator.js';
import { startCoordinatorServer } from './coordinator-server.js';
import { NatsJobEvents } from './nats-job-events.js';

/** Where the coordinator serves. */
export interface ServeOptions {
  readonly host: string;
  readonly port: number;
  /** /metrics port of the running job's metrics; 0 for none. */
  readonly metricsPort: number;
  /** NATS servers to publish job events to; '' for none. */
  readonly nats: string;
  /** Directory every submitted job's output goes under; default `runs`. */
  readonly runsDir?: string;
  readonly log?: (line: string) => void;
}

/** Serves until a signal arrives. */
export async function serveCoordinator(opts: ServeOptions): Promise<void> {
  const log = opts.log ?? ((line: string) => console.error(line));
  const events = opts.nats === '' ? null : await NatsJobEvents.connect(opts.nats, log);
  const coordinator = new Coordinator({ log, ...(events ? { events } : {}) });
  const runsDir = resolve(opts.runsDir ?? 'runs');
  const server = await startCoordinatorServer(coordinator, { host: opts.host, port: opts.port, runsDir });
  let metrics: MetricsServer | null = null;
  const empty = new Registry();
  if (opts.metricsPort > 0) {
    metrics = await serveMetrics(() => coordinator.metrics?.registry ?? empty, {
      host: opts.host,
      port: opts.metricsPort,
    });
  }
  log(
    `coordinator: jobs and workers are kept in this process's memory only: ` +
      `queued and running jobs are lost when it stops; job outputs go under ${runsDir}`,
  );
  log(`coordinator listening on ${server.address}${metrics ? `; metrics on port ${metrics.port}` : ''}`);
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
  });
  for (const job of coordinator.allJobs) coordinator.cancel(job.id, `coordinator stopped by ${signal}`);
  await metrics?.close();
  await server.close();
  await events?.close();
}
