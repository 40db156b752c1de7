/**
 * The metrics the coordinator exports: the job's state, generation, membership and progress, the
 * checkpoints it wrote and failed to write, the workers it lost (by reason), the requests it fenced
 * off, how long the job took to train again after each loss, and how long ago each worker last sent
 * a heartbeat. Every counter an alert reads has its series from the start, at 0.
 */

/** Why a worker left its job, as `harmonium_worker_failures_total{reason}` counts it. */
export const FAILURE_REASONS = ['exited', 'lost', 'hung', 'left'] as const;
export type FailureReasonLabel = (typeof FAILURE_REASONS)[number];

/** Recovery-time buckets, in seconds: from a re-formed loopback group to a hung worker's timeout and more. */
const RECOVERY_BUCKETS_SECONDS = [0.1, 0.25, 0.5, 1, 2, 3, 5, 7.5, 10, 15, 30, 60, 120];
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { createHarmoniumRegistry } from './harmonium-registry.js';

/** The job the coordinator runs, and the fixed list of states that job can be in. */
export interface CoordinatorMetricsOptions<S extends string> {
  readonly job: string;
  readonly model: string;
  /** Every state of the job, e.g. PENDING, RENDEZVOUS, RUNNING, SUCCEEDED, FAILED, CANCELLED. */
  readonly states: readonly S[];
  /** Clock in milliseconds that heartbeat ages are measured with; `Date.now` unless a test sets it. */
  readonly now?: () => number;
}

/** Job-wide progress, as the workers report it. */
export interface ProgressRecord {
  /** The last step the job completed. */
  readonly step: number;
  /** Images processed job-wide since the previous record. */
  readonly images: number;
  /** The job's training loss, only where a step logged one. */
  readonly loss?: number;
}

/** The coordinator's metrics, exported on their own `registry`. */
export interface CoordinatorMetrics<S extends string> {
  readonly registry: Registry;
  /** Sets `harmonium_job_state` to 1 for `state` and 0 for every other state. */
  setJobState(state: S): void;
  setLiveWorkers(count: number): void;
  setGeneration(generation: number): void;
  recordProgress(record: ProgressRecord): void;
  recordCheckpoint(): void;
  /** Counts one checkpoint the coordinator failed to write. */
  recordCheckpointFailure(): void;
  /** Counts one request refused because its worker is no longer a member of the generation it names. */
  recordFenced(): void;
  /** Counts one worker that left the job, by why. */
  recordWorkerFailure(reason: FailureReasonLabel): void;
  /** Seconds from a failure to the first step the next generation committed. */
  recordRecovery(seconds: number): void;
  /** Notes a heartbeat from `rank`; its age is measured when Prometheus scrapes. */
  recordHeartbeat(rank: number, atMs?: number): void;
  /** Drops `rank`'s heartbeat series, when the worker has left the job. */
  forgetWorker(rank: number): void;
}

/** Creates the coordinator's metrics on a fresh registry that also holds the default process metrics. */
export function createCoordinatorMetrics<S extends string>(
  options: CoordinatorMetricsOptions<S>,
): CoordinatorMetrics<S> {
  const { job, model, states } = options;
  const now = options.now ?? Date.now;
  const registry = createHarmoniumRegistry({ role: 'coordinator', job, model });
  const registers = [registry];

  const jobState = new Gauge({
    name: 'harmonium_job_state',
    help: 'The job state: 1 for the current state, 0 for the others.',
    labelNames: ['state'] as const,
    registers,
  });
  // Every state has a series from the start, so that queries like `harmonium_job_state{state="FAILED"} == 1`
  // compare against 0 rather than against nothing.
  for (const state of states) jobState.set({ state }, 0);
  const liveWorkers = new Gauge({
    name: 'harmonium_live_workers',
    help: 'Workers in the current generation that are alive.',
    registers,
  });
  const generation = new Gauge({
    name: 'harmonium_generation',
    help: 'The membership generation; it grows each time the process group is re-formed.',
    registers,
  });
  const jobStep = new Gauge({ name: 'harmonium_job_step', help: 'Last step the job completed.', registers });
  const images = new Counter({
    name: 'harmonium_images_processed_total',
    help: 'Training images processed job-wide, as the workers report them.',
    registers,
  });
  const loss = new Gauge({
    name: 'harmonium_loss',
    help: 'Last logged training loss of the job.',
    registers,
  });
  // No sample until a loss is logged: prom-client starts an unlabelled gauge at 0, which a
  // dashboard would show as a perfect loss.
  loss.remove({});
  const checkpoints = new Counter({
    name: 'harmonium_checkpoints_written_total',
    help: 'Checkpoints written.',
    registers,
  });
  const checkpointFailures = new Counter({
    name: 'harmonium_checkpoint_failures_total',
    help: 'Checkpoints the coordinator failed to write (the job goes on from the last one written).',
    registers,
  });
  checkpointFailures.inc(0);
  const fenced = new Counter({
    name: 'harmonium_fenced_requests_total',
    help: 'Requests refused because their worker is no longer a member of the generation they name (a worker the job went on without).',
    registers,
  });
  fenced.inc(0);
  const workerFailures = new Counter({
    name: 'harmonium_worker_failures_total',
    help: 'Workers that left the job: their process exited, their connection was lost, they hung, or they left gracefully.',
    labelNames: ['reason'] as const,
    registers,
  });
  for (const reason of FAILURE_REASONS) workerFailures.inc({ reason }, 0);
  const recovery = new Histogram({
    name: 'harmonium_recovery_seconds',
    help: 'Seconds from a worker failure to the first step committed by the generation formed without it.',
    buckets: RECOVERY_BUCKETS_SECONDS,
    registers,
  });
  const lastHeartbeat = new Map<number, number>();
  new Gauge({
    name: 'harmonium_heartbeat_age_seconds',
    help: 'Seconds since each worker of the job last sent a heartbeat.',
    labelNames: ['rank'] as const,
    registers,
    // Measured at scrape time, so a worker that fell silent shows a growing age even though the
    // coordinator records nothing for it.
    collect() {
      this.reset();
      const t = now();
      for (const [rank, at] of lastHeartbeat) this.set({ rank: String(rank) }, (t - at) / 1000);
    },
  });

  return {
    registry,
    setJobState(state) {
      if (!states.includes(state)) {
        throw new RangeError(`job state ${state} is not one of ${states.join(', ')}`);
      }
      for (const s of states) jobState.set({ state: s }, s === state ? 1 : 0);
    },
    setLiveWorkers(count) {
      liveWorkers.set(count);
    },
    setGeneration(g) {
      generation.set(g);
    },
    recordProgress(record) {
      jobStep.set(record.step);
      images.inc(record.images);
      if (record.loss !== undefined) loss.set(record.loss);
    },
    recordCheckpoint() {
      checkpoints.inc();
    },
    recordCheckpointFailure() {
      checkpointFailures.inc();
    },
    recordFenced() {
      fenced.inc();
    },
    recordWorkerFailure(reason) {
      workerFailures.inc({ reason });
    },
    recordRecovery(seconds) {
      recovery.observe(seconds);
    },
    recordHeartbeat(rank, atMs = now()) {
      lastHeartbeat.set(rank, atMs);
    },
    forgetWorker(rank) {
      lastHeartbeat.delete(rank);
    },
  };
}
