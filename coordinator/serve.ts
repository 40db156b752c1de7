/**
 * `harmonium coordinator`: a long-running coordinator that workers join and clients submit jobs
 * to; it runs until SIGINT or SIGTERM. With `--nats` its jobs live in JetStream, and any number of
 * coordinators may share it: one leads (leader-lease.ts), the others stand by, refusing calls so
 * that workers and clients with a list of coordinators find the leader. The coordinator that
 * takes the lead (a restart, or a standby when the leader died) takes up every job the last one
 * left, queued or running, and the running ones go on without restarting a worker. Without
 * `--nats`, a signal cancels what is in flight.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import type { ControlStore, Revisioned } from '../core/control-plane/control-store.js';
import { JetStreamControlStore } from '../core/control-plane/jetstream-control-store.js';
import { LeaderLease } from '../core/control-plane/leader-lease.js';
import { MemoryControlStore } from '../core/control-plane/memory-control-store.js';
import { natsAccess, type NatsAccess } from '../core/control-plane/nats-access.js';
import type { ClusterError } from '../core/errors.js';
import { ClusterCredentials } from '../core/security/cluster-credentials.js';
import { createCoordinatorPresence } from '../core/metrics/coordinator-presence.js';
import { serveMetrics, type MetricsServer } from '../core/metrics/metrics-server.js';
import { Coordinator } from './coordinator.js';
import { startCoordinatorServer } from './coordinator-server.js';
import { JobIntake } from './job-intake.js';
import { JobJournal } from './job-journal.js';
import { parseJobRecord, type JobRecord } from './job-record.js';
import { stderrLog, type Log } from '../core/logging/log.js';
import { serveJobPages } from './job-page-server.js';

/** Where the coordinator serves. */
export interface ServeOptions {
  readonly host: string;
  readonly port: number;
  /** /metrics port of the running job's metrics; 0 for none. */
  readonly metricsPort: number;
  /** NATS (servers, credentials) whose JetStream keeps the coordinator's state; '' for memory only. */
  readonly nats: string | NatsAccess;
  /** Interface /metrics binds to; default 127.0.0.1. */
  readonly metricsHost?: string;
  /** Mutual TLS and token; default plaintext, no token (warned about). */
  readonly credentials?: ClusterCredentials;
  /** Directory every submitted job's output goes under; default `runs`. */
  readonly runsDir?: string;
  /** How long the workers of a job taken up from the store have to join again; default 30 s. */
  readonly adoptGraceMs?: number;
  /** The leader lease's time (standbys take over about this long after the leader stops). */
  readonly leaseTtlMs?: number;
  /** Port of the job pages (`--http-port`); 0 or absent: none. */
  readonly httpPort?: number;
  /** Interface the job pages bind to; default 127.0.0.1. */
  readonly httpHost?: string;
  readonly log?: Log;
}

/** The readable records of `loaded`; an unreadable one is reported and left where it is. */
function loadRecords(loaded: readonly Revisioned[], log: (line: string) => void): JobRecord[] {
  const out: JobRecord[] = [];
  for (const r of loaded) {
    try {
      out.push(parseJobRecord(r.value, r.key));
    } catch (err) {
      log(`coordinator: skipping a job record: ${(err as Error).message}`);
    }
  }
  return out;
}

/** Serves until a signal arrives (or, sharing a store, until another coordinator took the lead). */
export async function serveCoordinator(opts: ServeOptions): Promise<void> {
  const log = opts.log ?? stderrLog('coordinator');
  const runsDir = resolve(opts.runsDir ?? 'runs');
  const id = `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
  const credentials = opts.credentials ?? ClusterCredentials.INSECURE;
  if (credentials.tls === null) {
    log(
      'coordinator: WARNING: --insecure: plaintext gRPC; anyone who can reach this port can submit, ' +
        'cancel and read jobs and join as a worker. Use it on a trusted network only.',
    );
  }
  const nats = natsAccess(opts.nats);
  const store: ControlStore =
    nats.servers === '' ? new MemoryControlStore() : await JetStreamControlStore.open(nats);
  let deposed: ClusterError | null = null;
  let onDeposed: () => void = () => undefined;
  const deposed$ = new Promise<void>((r) => (onDeposed = r));
  const depose = (err: ClusterError): void => {
    if (deposed) return;
    deposed = err;
    log(`coordinator: ${err.message}; stopping: another coordinator leads`);
    onDeposed();
  };
  const journal = store.durable ? new JobJournal(store, { log, onDeposed: depose }) : null;
  const coordinator = new Coordinator({
    log,
    events: {
      publish: (e) => store.publishEvent(e.job, e.kind, JSON.stringify(e)),
      close: () => Promise.resolve(),
    },
    ...(journal ? { journal } : {}),
    ...(opts.adoptGraceMs !== undefined ? { adoptGraceMs: opts.adoptGraceMs } : {}),
  });
  const intake = new JobIntake({ coordinator, store, journal, runsDir, log });
  const address = `${opts.host}:${opts.port}`;
  const lease = store.durable
    ? new LeaderLease(
        store,
        { holder: id, address },
        { log, ...(opts.leaseTtlMs ? { ttlMs: opts.leaseTtlMs } : {}) },
      )
    : null;
  let leading = lease === null;
  const server = await startCoordinatorServer(coordinator, {
    host: opts.host,
    port: opts.port,
    runsDir,
    intake,
    credentials,
    log,
    standby: () =>
      leading && (lease === null || lease.valid)
        ? null
        : leading
          ? `coordinator ${id} may have lost the lead (no renewal for a lease time)`
          : `coordinator ${id} stands by; the leader is ${lease?.leader ? lease.leader.address : 'not known yet'}`,
  });
  server.setServing(leading);
  let metrics: MetricsServer | null = null;
  const presence = createCoordinatorPresence(() => leading && (lease === null || lease.valid));
  if (opts.metricsPort > 0) {
    // The job's metrics are whichever job it runs at the time of the scrape.
    const current = () => (coordinator.metrics ? [presence, coordinator.metrics.registry] : [presence]);
    metrics = await serveMetrics(current, {
      host: opts.metricsHost ?? '127.0.0.1',
      port: opts.metricsPort,
    });
  }
  const pages = opts.httpPort
    ? await serveJobPages(coordinator, { host: opts.httpHost ?? '127.0.0.1', port: opts.httpPort })
    : null;
  log(
    `coordinator ${id} listening on ${server.address} (${credentials.describe()})` +
      `${metrics ? `; metrics on ${opts.metricsHost ?? '127.0.0.1'}:${metrics.port}` : ''}` +
      `${pages ? `; job pages on ${pages.url}/` : ''}`,
  );
  const signal$ = new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
  });
  let signal: NodeJS.Signals | null = null;
  void signal$.then((s) => (signal = s));
  try {
    if (lease) {
      const led = await Promise.race([lease.acquire(), signal$.then(() => false)]);
      if (led) await lead(store, journal!, coordinator, log);
    } else {
      log(
        `coordinator: jobs and workers are kept in this process's memory only (no --nats): ` +
          `queued and running jobs are lost when it stops; job outputs go under ${runsDir}`,
      );
    }
    if (signal === null && deposed === null) {
      leading = true;
      server.setServing(true);
      intake.start();
      lease?.keep(depose);
      if (lease) log(`coordinator ${id}: leading (state in ${store.where}); job outputs go under ${runsDir}`);
      await Promise.race([signal$, deposed$]);
    }
  } finally {
    leading = false;
    // With a durable store the jobs belong to whoever leads next; in memory they end here.
    if (!store.durable) {
      for (const job of coordinator.allJobs)
        coordinator.cancel(job.id, `coordinator stopped by ${signal ?? 'an error'}`);
    }
    if (!deposed) await journal?.flushAll();
    await lease?.stop(!deposed);
    await coordinator.settled();
    await metrics?.close();
    await pages?.close();
    await server.close();
    await store.close();
  }
  if (deposed) throw deposed;
}

/**
 * Takes up what the last leader left: every open job's record is written again first (so that the
 * last leader, should it wake up, fails its next write on the revision), then the jobs are restored.
 */
async function lead(
  store: ControlStore,
  journal: JobJournal,
  coordinator: Coordinator,
  log: (line: string) => void,
): Promise<void> {
  const loaded = await store.loadJobs();
  for (const r of loaded) journal.loaded(r.key, r.value, r.revision);
  const records = loadRecords(loaded, log);
  const open = records.filter(
    (r) => !['SUCCEEDED', 'FAILED', 'CANCELLED'].includes(r.job.history.at(-1)!.state),
  );
  for (const r of open) await journal.claim(r.job.id);
  coordinator.restore(records);
  log(`coordinator: ${loaded.length} job record(s) in ${store.where}, ${open.length} not ended`);
}
