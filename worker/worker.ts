/**
 * A worker process: joins the coordinator's pool and serves its jobs one after the other, each
 * for as many generations as it stays a member (job-runner.ts), until it is told to leave. Its
 * Join stream and heartbeats run on a control thread (control-thread.ts), so a long synchronous
 * step never makes it look hung.
 *
 * Leaving: the first SIGTERM (an eviction, a scale-down, Ctrl-C of one worker) is a graceful
 * leave: the worker tells the coordinator, its generation drains at the next step boundary, and it
 * exits once released; a second SIGTERM, or 30 s, ends it at once. `once` serves one job and
 * exits with its outcome, as a Kubernetes Job's pod would.
 *
 * Losing the coordinator: the job trains on, its reports wait, the Join stream is opened again
 * with backoff, and a coordinator that comes back (restarted, or a standby taking over, with the
 * job in its store) takes this worker back where it stands. Silence for longer than
 * `coordinatorTimeoutMs` ends the process.
 */
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { CollectiveEndpoint } from '../core/collective/collective-endpoint.js';
import type { HarmoniumError } from '../core/errors.js';
import { ClusterCredentials } from '../core/security/cluster-credentials.js';
import { ClusterError } from '../core/errors.js';
import type { WorkerEvent__Output } from '../proto/coordinator-service.js';
import { ControlChannel, COORDINATOR_TIMEOUT_MS } from './control-channel.js';
import { CoordinatorClient } from './coordinator-client.js';
import { runEvaluation, runJob, type JobOutcome, type WorkerContext } from './job-runner.js';
import { stderrLog, type Log } from '../core/logging/log.js';

/** Options of {@link runWorker}. */
export interface WorkerOptions {
  /** host:port of the coordinator. */
  readonly coordinator: string;
  /** Address the collective endpoint listens on; default 127.0.0.1. */
  readonly listenHost?: string;
  /** Interface a job's /metrics binds to; default 127.0.0.1. */
  readonly metricsHost?: string;
  /** Host peers dial to reach this worker; default listenHost. */
  readonly advertiseHost?: string;
  /** Compute threads of this process, overriding the job's `threads` (a property of the host). */
  readonly threads?: number;
  /** Serve one job, then exit (rejecting when it did not succeed). */
  readonly once?: boolean;
  /** One-off messages; default stderr in the process's log format. */
  readonly log?: Log;
  /** Resolves when the worker should leave (SIGTERM); default: never. */
  readonly leave?: Promise<string>;
  /** How long the worker carries on without hearing from a coordinator; default 60 s. */
  readonly coordinatorTimeoutMs?: number;
  /** TLS and token for the coordinator and the peers; default plaintext, no token. */
  readonly credentials?: ClusterCredentials;
}

/** Runs a worker until it leaves (or, with `once`, until its first job is over for it). */
export async function runWorker(opts: WorkerOptions): Promise<void> {
  const log = opts.log ?? stderrLog('worker');
  const listenHost = opts.listenHost ?? '127.0.0.1';
  const credentials = opts.credentials ?? ClusterCredentials.INSECURE;
  const endpoint = await CollectiveEndpoint.listen({
    host: listenHost,
    port: 0,
    credentials,
    ...(opts.advertiseHost ? { advertisedHost: opts.advertiseHost } : {}),
  });
  const workerId = `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
  const patience = opts.coordinatorTimeoutMs ?? COORDINATOR_TIMEOUT_MS;
  // Proves to the coordinator that calls as `workerId` come from this process.
  const workerKey = randomBytes(32).toString('hex');
  const client = new CoordinatorClient(opts.coordinator, credentials)
    .as(workerId, workerKey)
    .patient(patience);

  let failure: HarmoniumError | null = null;
  let onFailure: (err: HarmoniumError) => void = () => undefined;
  const failed$ = new Promise<never>((_, reject) => (onFailure = reject));
  failed$.catch(() => undefined);
  const die = (err: HarmoniumError): void => {
    if (failure) return;
    failure = err;
    onFailure(err);
  };

  let leaving = false;
  let onLeaving: () => void = () => undefined;
  const leaving$ = new Promise<void>((resolve) => (onLeaving = resolve));
  const control = new ControlChannel(
    opts.coordinator,
    {
      workerId,
      collectiveAddress: endpoint.address,
      hostname: hostname(),
      pid: process.pid,
      metricsAddress: '',
    },
    {
      heartbeat: () => undefined,
      lost: (message) => die(new ClusterError('RPC_FAILED', message)),
      streamEnded: (message) => log(`worker ${workerId}: Join stream ended (${message}); joining again`),
    },
    patience,
    { credentials, workerKey },
  );
  void opts.leave?.then((why) => {
    leaving = true;
    onLeaving();
    log(`worker ${workerId}: leaving (${why})`);
    client
      .leave(why)
      .catch((err: unknown) => log(`worker ${workerId}: could not say so: ${(err as Error).message}`));
  });
  const ctx: WorkerContext = {
    workerId,
    endpoint,
    client,
    control,
    listenHost,
    metricsHost: opts.metricsHost ?? '127.0.0.1',
    threads: opts.threads ?? 0,
    log,
    leaving: () => leaving,
    leaving$,
  };

  log(
    `worker ${workerId}: joined coordinator ${opts.coordinator}; collective endpoint ${endpoint.address} ` +
      `(${credentials.describe()})`,
  );
  let outcome: JobOutcome | null = null;
  try {
    while (!leaving) {
      const e: WorkerEvent__Output | null = await Promise.race([
        control.next(),
        leaving$.then(() => null),
        failed$,
      ]);
      if (e === null) break;
      if (!e.assignment && !e.evaluate) continue;
      const what = e.assignment ? `job ${e.assignment.jobId}` : `evaluation of job ${e.evaluate!.jobId}`;
      const work = e.assignment ? runJob(ctx, e.assignment) : runEvaluation(ctx, e.evaluate!);
      work.catch(() => undefined);
      try {
        outcome = await Promise.race([work, failed$]);
      } catch (err) {
        if (failure) throw failure;
        outcome = { ended: 'aborted', reason: err instanceof Error ? err.message : String(err) };
      }
      if (outcome.ended === 'aborted' && outcome.reason.startsWith('fenced')) {
        log(`worker ${workerId}: fenced out of ${what}: ${outcome.reason}; back to the pool`);
      } else {
        log(`worker ${workerId}: ${what} over for this worker (${outcome.ended}: ${outcome.reason})`);
      }
      if (opts.once || outcome.ended === 'left') break;
    }
    if (failure) throw failure;
    if (opts.once && outcome && outcome.ended === 'aborted') {
      throw new ClusterError('JOB_FAILED', outcome.reason);
    }
  } finally {
    await control.close();
    await endpoint.close();
    client.close();
  }
}
