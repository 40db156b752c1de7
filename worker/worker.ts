/**
 * A worker process: joins the coordinator, waits for its assignment, trains its rank of the job
 * in lockstep with its peers, and hands rank 0's outputs to the coordinator. One job per process:
 * the worker exits when its job ends (a launcher or Kubernetes starts a fresh one).
 *
 * Failure: a broken collective, a diverged replica or any other error is reported to the
 * coordinator (best effort) and ends the process with that error. An abort from the coordinator,
 * a stop in a heartbeat reply, or losing the coordinator closes the process group, so a rank
 * blocked in an all-reduce fails at once instead of waiting for its deadline.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { CollectiveEndpoint } from '../core/collective/collective-endpoint.js';
import type { ProcessGroup } from '../core/collective/process-group.js';
import { CollectiveError } from '../core/collective/collective-error.js';
import type { JobConfig } from '../core/config/job-config.js';
import { deriveSeed, Rng } from '../core/data/rng.js';
import { ClusterError, HarmoniumError } from '../core/errors.js';
import { createWorkerMetrics } from '../core/metrics/worker-metrics.js';
import { flatLength } from '../core/models/model.js';
import { serveMetrics, type MetricsServer } from '../core/metrics/metrics-server.js';
import { applyCheckpoint } from '../core/train/resume.js';
import { writeRunResults } from '../core/train/run-results.js';
import { setUpRun } from '../core/train/run-setup.js';
import { collectiveTag, runTrainingLoop, SEED_STREAM, type LoopStart } from '../core/train/training-loop.js';
import type { Assignment } from '../proto/coordinator-service.js';
import { CoordinatorClient } from './coordinator-client.js';
import { CoordinatorHost } from './coordinator-host.js';

/** Options of {@link runWorker}. */
export interface WorkerOptions {
  /** host:port of the coordinator. */
  readonly coordinator: string;
  /** Address the collective endpoint listens on; default 127.0.0.1. */
  readonly listenHost?: string;
  /** Host peers dial to reach this worker; default listenHost. */
  readonly advertiseHost?: string;
  /** Compute threads of this process, overriding the job's `threads` (a property of the host). */
  readonly threads?: number;
  /** One-off messages; default console.error. */
  readonly log?: (line: string) => void;
}

/** Interval of heartbeats before an assignment arrives. */
const IDLE_HEARTBEAT_MS = 2000;
/** Deadline for the ranks to form their group and agree on the starting parameters. */
const STARTUP_TIMEOUT_MS = 300_000;

/** Runs one worker until its job ends; resolves on success, rejects with the job's failure. */
export async function runWorker(opts: WorkerOptions): Promise<void> {
  const log = opts.log ?? ((line: string) => console.error(line));
  const listenHost = opts.listenHost ?? '127.0.0.1';
  const endpoint = await CollectiveEndpoint.listen({
    host: listenHost,
    port: 0,
    ...(opts.advertiseHost ? { advertisedHost: opts.advertiseHost } : {}),
  });
  const collectiveAddress = endpoint.address;
  const workerId = `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
  const client = new CoordinatorClient(opts.coordinator);

  let group: ProcessGroup | null = null;
  let stopped: HarmoniumError | null = null;
  let onStop: (err: HarmoniumError) => void = () => undefined;
  const stopped$ = new Promise<never>((_, reject) => (onStop = reject));
  stopped$.catch(() => undefined);
  /** Ends the worker's job from outside the training loop. */
  const stop = (err: HarmoniumError): void => {
    if (stopped) return;
    stopped = err;
    onStop(err);
    void group?.close();
  };

  let assigned: (a: Assignment) => void = () => undefined;
  const assignment$ = new Promise<Assignment>((resolve) => (assigned = resolve));
  const leave = client.join(
    { workerId, collectiveAddress, hostname: hostname(), pid: process.pid, metricsAddress: '' },
    (event) => {
      if (event.assignment) assigned(event.assignment);
      else if (event.abort) stop(new ClusterError('JOB_FAILED', event.abort.reason));
    },
    (err) =>
      stop(err ?? new ClusterError('RPC_FAILED', `coordinator ${opts.coordinator} closed the connection`)),
  );

  let job = { id: '', generation: 0, step: 0 };
  let host: CoordinatorHost | null = null;
  let heartbeatMs = IDLE_HEARTBEAT_MS;
  let heartbeatTimer: NodeJS.Timeout | null = null;
  let lastAnswer = Date.now();
  let failedInARow = 0;
  const beat = (): void => {
    client.heartbeat(job.id, job.generation, host?.last?.step ?? job.step, heartbeatMs).then(
      (reply) => {
        lastAnswer = Date.now();
        failedInARow = 0;
        if (reply.stop) stop(new ClusterError('JOB_FAILED', reply.reason));
      },
      (err: unknown) => {
        // A long synchronous computation here (evaluation) blocks this event loop: the one
        // heartbeat in flight then misses its deadline, which says nothing about the coordinator.
        failedInARow++;
        // Only a coordinator silent for several intervals ends the job; one late answer does not.
        if (failedInARow >= 3 && Date.now() - lastAnswer > 4 * heartbeatMs) {
          stop(
            new ClusterError('RPC_FAILED', `lost the coordinator: ${(err as Error).message}`, { cause: err }),
          );
        }
      },
    );
  };
  const startHeartbeats = (ms: number): void => {
    if (heartbeatTimer) clearInterval(heartbeatTimer);
    heartbeatMs = ms;
    heartbeatTimer = setInterval(beat, ms);
  };
  startHeartbeats(IDLE_HEARTBEAT_MS);

  let metricsServer: MetricsServer | null = null;
  let a: Assignment | null = null;
  try {
    log(
      `worker ${workerId}: joined coordinator ${opts.coordinator}; collective endpoint ${collectiveAddress}`,
    );
    a = await Promise.race([assignment$, stopped$]);
    job = { id: a.jobId, generation: a.generation, step: 0 };
    startHeartbeats(a.heartbeatIntervalMs);
    const submitted = JSON.parse(a.configJson) as JobConfig;
    const config: JobConfig = opts.threads ? { ...submitted, threads: opts.threads } : submitted;
    log(
      `worker ${workerId}: rank ${a.rank} of ${a.worldSize} in job ${a.jobId} (generation ${a.generation})`,
    );

    const metrics = createWorkerMetrics({ job: a.jobId, rank: a.rank, model: config.model });
    if (a.metricsPort > 0) {
      metricsServer = await serveMetrics(metrics.registry, { host: listenHost, port: a.metricsPort });
    }
    const setup = await setUpRun(config, { rank: a.rank, worldSize: a.worldSize });
    const g = await Promise.race([
      endpoint.join({
        jobId: a.jobId,
        generation: a.generation,
        rank: a.rank,
        peers: a.peers,
        timeoutMs: STARTUP_TIMEOUT_MS,
      }),
      stopped$,
    ]);
    group = g;
    if (stopped) throw stopped;

    let start: LoopStart;
    if (a.resume) {
      const data = await client.fetchState(a.jobId, a.rank, a.worldSize);
      start = applyCheckpoint(setup, data, `the checkpoint of job ${a.jobId}`);
    } else {
      const params =
        a.rank === 0
          ? setup.model.init(new Rng(deriveSeed(config.seed, SEED_STREAM.init)))
          : new Float32Array(flatLength(setup.model.paramSpecs));
      start = { params, cursor: { epoch: 0, step: 0, imagesSeen: 0 } };
    }
    // Every replica starts from rank 0's parameters, whatever each computed or loaded.
    await g.broadcast(start.params, 0, {
      tag: collectiveTag(start.cursor.step, 'sync'),
      timeoutMs: STARTUP_TIMEOUT_MS,
    });
    job.step = start.cursor.step;
    await client.report({
      jobId: a.jobId,
      generation: a.generation,
      rank: a.rank,
      step: start.cursor.step,
      totalSteps: setup.totalSteps,
      epoch: start.cursor.epoch,
      imagesSeen: start.cursor.imagesSeen,
      loss: NaN,
      record: null,
    });

    const started = performance.now();
    host = new CoordinatorHost(client, { jobId: a.jobId, generation: a.generation, rank: a.rank }, metrics);
    const loop = await Promise.race([
      runTrainingLoop(setup, start, {
        host,
        group: g,
        progress: null,
        digestEvery: a.digestEvery,
        collectiveTimeoutMs: a.collectiveTimeoutMs,
      }),
      stopped$,
    ]);
    await g.close();
    group = null;
    await host.report(null);
    if (a.rank === 0) {
      const dir = await mkdtemp(join(tmpdir(), 'harmonium-results-'));
      try {
        const summary = await writeRunResults(
          setup,
          {
            params: start.params,
            loop,
            startImages: start.cursor.imagesSeen,
            resumedFrom: a.resume ? start.cursor.step : null,
            started,
            log,
          },
          dir,
        );
        const made = new Set(host.pictures.map((f) => f.name));
        const files = [
          ...host.pictures,
          ...(await Promise.all(
            summary.pictures
              .filter((name) => !made.has(name))
              .map(async (name) => ({ name, data: await readFile(join(dir, name)) })),
          )),
        ];
        await client.finish(a.jobId, JSON.stringify(summary), files);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    }
    log(`worker ${workerId}: rank ${a.rank} done`);
  } catch (err) {
    // The coordinator's own verdict (abort, stop) wins over what it caused here (a closed group).
    const failure = stopped ?? err;
    if (!stopped && a !== null) {
      const code = err instanceof HarmoniumError ? err.code : 'INTERNAL';
      const peer = err instanceof CollectiveError && err.peer !== null ? err.peer : -1;
      await client
        .fail(a.jobId, a.generation, a.rank, code, (err as Error).message, peer)
        .catch(() => undefined);
    }
    throw failure;
  } finally {
    if (heartbeatTimer) clearInterval(heartbeatTimer);
    leave();
    await group?.close();
    await endpoint.close();
    await metricsServer?.close();
    client.close();
  }
}
