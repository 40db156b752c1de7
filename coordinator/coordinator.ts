/**
 * The coordinator's decisions, apart from any transport: which workers form a job's generation,
 * when a job starts, succeeds or fails, what goes into its output directory. The gRPC server
 * (coordinator-server.ts) turns calls into these methods; a timer calls {@link Coordinator.tick}.
 * Tests drive it directly and assert job states. It never imports tfjs.
 */
import { randomBytes } from 'node:crypto';
import type { JobConfig } from '../core/config/job-config.js';
import { ClusterError } from '../core/errors.js';
import { createCoordinatorMetrics, type CoordinatorMetrics } from '../core/metrics/coordinator-metrics.js';
import type { CheckpointData } from '../core/train/checkpoint.js';
import type { MetricsRecord } from '../core/train/metrics-log.js';
import type { ResultFile } from '../proto/result-codec.js';
import { Job, JOB_STATES, type JobState } from './job.js';
import type { JobEventSink } from './job-events.js';
import { JobOutputs } from './job-outputs.js';
import { describeWorker, WorkerRegistry, type WorkerRecord } from './worker-registry.js';

/** Options of a {@link Coordinator}. */
export interface CoordinatorOptions {
  /** Milliseconds clock; default Date.now. */
  readonly now?: () => number;
  /** One-off messages; default console.error. */
  readonly log?: (line: string) => void;
  /** Heartbeat timeout of workers without a job, in ms; default 10 s. */
  readonly idleHeartbeatTimeoutMs?: number;
  /** Called after every progress report of a job's rank 0. */
  readonly onProgress?: (job: Job) => void;
  /** Receives every change of a job's state and rank 0's progress (e.g. NATS). */
  readonly events?: JobEventSink;
}

/** What a joining worker says about itself. */
export interface JoinInfo {
  readonly id: string;
  readonly hostname: string;
  readonly pid: number;
  readonly collectiveAddress: string;
  readonly metricsAddress: string;
}

/** A rank's progress report. */
export interface ProgressInfo {
  readonly workerId: string;
  readonly jobId: string;
  readonly step: number;
  readonly totalSteps: number;
  readonly imagesSeen: number;
  readonly loss: number;
  /** Rank 0 only: one metrics.jsonl record. */
  readonly record: MetricsRecord | null;
}

/** A worker's report of a failure it cannot recover from. */
export interface FailureInfo {
  readonly workerId: string;
  readonly jobId: string;
  readonly code: string;
  readonly message: string;
  readonly peer: number;
}

interface RunningJob {
  readonly job: Job;
  readonly outputs: JobOutputs;
  readonly metrics: CoordinatorMetrics<JobState>;
  readonly ready: Set<number>;
  startedAt: number;
  imagesReported: number;
}

/** Heartbeats a worker is told to send per heartbeat timeout. */
const HEARTBEATS_PER_TIMEOUT = 4;

export class Coordinator {
  readonly workers = new WorkerRegistry();
  private readonly jobs: Job[] = [];
  private readonly running = new Map<string, RunningJob>();
  private readonly waiters = new Map<string, Array<(job: Job) => void>>();
  private readonly now: () => number;
  private readonly log: (line: string) => void;
  private readonly idleTimeoutMs: number;
  private readonly onProgress: ((job: Job) => void) | null;
  private readonly events: JobEventSink | null;
  private lastMetrics: CoordinatorMetrics<JobState> | null = null;
  private readonly resumeSteps = new Map<string, number | null>();

  constructor(opts: CoordinatorOptions = {}) {
    this.now = opts.now ?? Date.now;
    this.log = opts.log ?? ((line) => console.error(line));
    this.idleTimeoutMs = opts.idleHeartbeatTimeoutMs ?? 10_000;
    this.onProgress = opts.onProgress ?? null;
    this.events = opts.events ?? null;
  }

  /** Publishes the job's state (after a transition) or progress to the event sink, if any. */
  private emit(job: Job, kind: 'state' | 'progress'): void {
    if (!this.events) return;
    const last = job.history[job.history.length - 1]!;
    this.events.publish({
      kind,
      job: job.id,
      model: job.config.model,
      state: job.state,
      generation: job.generation,
      step: job.step,
      totalSteps: job.totalSteps,
      loss: Number.isFinite(job.loss) ? job.loss : null,
      reason: kind === 'state' ? last.reason : '',
      at: kind === 'state' ? last.at : this.now(),
    });
  }

  /** The metrics of the job running now (or that ran last); null before the first job. */
  get metrics(): CoordinatorMetrics<JobState> | null {
    return this.lastMetrics;
  }

  /** Every job, in submission order. */
  get allJobs(): readonly Job[] {
    return this.jobs;
  }

  job(id: string): Job {
    const job = this.jobs.find((j) => j.id === id);
    if (!job) throw new ClusterError('JOB_FAILED', `no job ${id} on this coordinator`);
    return job;
  }

  /**
   * Queues a job; it starts when enough workers are idle and the jobs before it have ended. A
   * resumed job must find its checkpoint now, not after workers have been gathered.
   */
  submit(config: JobConfig): Job {
    const outputs = new JobOutputs(config.out);
    const resumeStep = config.resume ? outputs.checkpointStep() : null;
    const job = new Job(`${config.model}-${randomBytes(4).toString('hex')}`, config, this.now());
    this.resumeSteps.set(job.id, resumeStep);
    this.jobs.push(job);
    this.log(`job ${job.id}: submitted (${config.model}, ${config.workers} workers, out ${config.out})`);
    this.emit(job, 'state');
    this.tick();
    return job;
  }

  /** Resolves when `jobId` has ended (SUCCEEDED, FAILED or CANCELLED). */
  waitFor(jobId: string): Promise<Job> {
    const job = this.job(jobId);
    if (job.terminal) return Promise.resolve(job);
    return new Promise((resolve) => {
      const list = this.waiters.get(jobId) ?? [];
      list.push(resolve);
      this.waiters.set(jobId, list);
    });
  }

  /** Cancels a job that has not ended; its workers are told to stop. */
  cancel(jobId: string, reason: string): Job {
    const job = this.job(jobId);
    if (!job.terminal) this.end(job, 'CANCELLED', reason || 'cancelled by a client');
    return job;
  }

  /** Fails a job that has not ended (e.g. its launcher saw a worker process die before joining). */
  failJob(jobId: string, reason: string): Job {
    const job = this.job(jobId);
    if (!job.terminal) {
      const run = this.running.get(jobId);
      if (run) this.fail(run, reason);
      else this.end(job, 'FAILED', reason);
    }
    return job;
  }

  /** Registers a worker whose Join call arrived; false when its id is taken. */
  join(info: JoinInfo, send: WorkerRecord['send']): boolean {
    const ok = this.workers.add({ ...info, joinedAt: this.now(), send });
    if (ok) this.log(`worker ${info.id} joined from ${info.hostname} (collective ${info.collectiveAddress})`);
    this.tick();
    return ok;
  }

  /** A worker's Join call ended: the worker left, cleanly or not. */
  leave(workerId: string): void {
    const w = this.workers.remove(workerId);
    if (!w || w.jobId === null) return;
    const run = this.running.get(w.jobId);
    run?.metrics.forgetWorker(w.rank);
    run?.metrics.setLiveWorkers(run.job.terminal ? 0 : this.workers.ofJob(w.jobId).length);
    if (run && !run.job.terminal && !w.finished) {
      this.fail(run, `${describeWorker(w)} disconnected: its process exited or its connection was lost`);
    }
  }

  /** A heartbeat; the answer tells the worker whether to stop. */
  heartbeat(workerId: string, step: number): { stop: boolean; reason: string } {
    const w = this.workers.get(workerId);
    if (!w || !this.workers.heartbeat(workerId, this.now(), step)) {
      return { stop: true, reason: `this coordinator does not know worker ${workerId}` };
    }
    if (w.jobId !== null) {
      const job = this.job(w.jobId);
      this.running.get(w.jobId)?.metrics.recordHeartbeat(w.rank, this.now());
      if (job.terminal)
        return { stop: true, reason: `job ${job.id} ${job.state.toLowerCase()}: ${job.message}` };
    }
    return { stop: false, reason: '' };
  }

  /** A rank's progress; rank 0's carries the metrics.jsonl record. */
  report(p: ProgressInfo): void {
    const { w, run } = this.member(p.workerId, p.jobId);
    if (!run || run.job.terminal) return;
    const { job } = run;
    w.step = p.step;
    if (!run.ready.has(w.rank)) {
      run.ready.add(w.rank);
      if (run.ready.size === job.config.workers && job.state === 'RENDEZVOUS') {
        job.transition(
          'RUNNING',
          `all ${job.config.workers} ranks joined generation ${job.generation}`,
          this.now(),
        );
        run.metrics.setJobState('RUNNING');
        run.startedAt = this.now();
        this.emit(job, 'state');
        this.log(`job ${job.id}: running (generation ${job.generation}, ${job.config.workers} workers)`);
      }
    }
    if (w.rank !== 0) {
      if (p.totalSteps > 0 && p.step >= p.totalSteps) w.finished = true;
      return;
    }
    job.totalSteps = p.totalSteps;
    if (p.step > job.step) {
      run.metrics.recordProgress({
        step: p.step,
        images: Math.max(0, p.imagesSeen - run.imagesReported),
        ...(Number.isFinite(p.loss) ? { loss: p.loss } : {}),
      });
      run.imagesReported = p.imagesSeen;
      job.step = p.step;
    }
    if (Number.isFinite(p.loss)) job.loss = p.loss;
    if (p.record) {
      run.outputs.appendMetrics(p.record);
      this.emit(job, 'progress');
    }
    this.onProgress?.(job);
  }

  /** A worker's unrecoverable failure fails its job. */
  failure(f: FailureInfo): void {
    const { w, run } = this.member(f.workerId, f.jobId);
    if (!run || run.job.terminal) return;
    const peer = f.peer >= 0 ? ` (peer rank ${f.peer})` : '';
    this.fail(run, `${describeWorker(w)} failed [${f.code}]${peer}: ${f.message}`);
  }

  /** The checkpoint a resumed job starts from. */
  async fetchState(workerId: string, jobId: string): Promise<CheckpointData> {
    const { run } = this.member(workerId, jobId);
    if (!run) throw new ClusterError('JOB_FAILED', `job ${jobId} is not running`);
    return run.outputs.readCheckpoint();
  }

  /** Writes rank 0's state as the job's checkpoint. */
  async saveState(workerId: string, jobId: string, data: CheckpointData): Promise<void> {
    const { w, run } = this.member(workerId, jobId);
    if (!run || run.job.terminal) throw new ClusterError('JOB_FAILED', `job ${jobId} is not running`);
    if (w.rank !== 0) throw new ClusterError('JOB_FAILED', `${describeWorker(w)} is not rank 0`);
    await run.outputs.writeCheckpoint(data);
    run.metrics.recordCheckpoint();
  }

  /** Writes rank 0's results; the job has succeeded. */
  async finish(
    workerId: string,
    jobId: string,
    summary: Record<string, unknown>,
    files: readonly ResultFile[],
  ): Promise<void> {
    const { w, run } = this.member(workerId, jobId);
    if (!run || run.job.terminal) throw new ClusterError('JOB_FAILED', `job ${jobId} is not running`);
    if (w.rank !== 0) throw new ClusterError('JOB_FAILED', `${describeWorker(w)} is not rank 0`);
    const wall = (this.now() - run.job.submittedAt) / 1000;
    await run.outputs.writeResults(
      { ...summary, workers: run.job.config.workers, wall_seconds: wall },
      files,
    );
    w.finished = true;
    this.end(run.job, 'SUCCEEDED', 'rank 0 wrote the results');
  }

  /**
   * One pass of the control loop: workers whose heartbeats stopped fail their job (or are dropped
   * when idle), and the oldest pending job starts its rendezvous once enough workers are idle.
   */
  tick(): void {
    const now = this.now();
    for (const w of this.workers.all()) {
      const run = w.jobId === null ? null : this.running.get(w.jobId);
      if (!run || run.job.terminal) {
        if (now - w.lastHeartbeat > this.idleTimeoutMs) {
          this.workers.remove(w.id);
          this.log(
            `${describeWorker(w)} dropped: no heartbeat for ${((now - w.lastHeartbeat) / 1000).toFixed(1)} s`,
          );
        }
        continue;
      }
      // A rank past its last step is evaluating or uploading and may block its event loop for
      // long; its Join call still tells if the process dies.
      const past = run.job.totalSteps > 0 && w.step >= run.job.totalSteps;
      const timeoutMs = run.job.config.heartbeatTimeout * 1000;
      if (!past && now - w.lastHeartbeat > timeoutMs) {
        this.fail(
          run,
          `${describeWorker(w)} sent no heartbeat for ${((now - w.lastHeartbeat) / 1000).toFixed(1)} s`,
        );
      }
    }
    const next = this.jobs.find((j) => !j.terminal);
    if (next && next.state === 'PENDING') this.rendezvous(next);
  }

  /** Jobs and workers, for `harmonium status`. */
  status(): { jobs: readonly Job[]; workers: readonly WorkerRecord[] } {
    return { jobs: this.jobs, workers: this.workers.all() };
  }

  private rendezvous(job: Job): void {
    const idle = this.workers.idle();
    const n = job.config.workers;
    if (idle.length < n) return;
    const members = idle.slice(0, n);
    const metrics = createCoordinatorMetrics({ job: job.id, model: job.config.model, states: JOB_STATES });
    this.lastMetrics = metrics;
    const outputs = new JobOutputs(job.config.out);
    job.generation += 1;
    job.transition(
      'RENDEZVOUS',
      `generation ${job.generation}: ${members.map((w) => w.id).join(', ')}`,
      this.now(),
    );
    metrics.setJobState('RENDEZVOUS');
    this.emit(job, 'state');
    metrics.setGeneration(job.generation);
    metrics.setLiveWorkers(n);
    const run: RunningJob = {
      job,
      outputs,
      metrics,
      ready: new Set(),
      startedAt: this.now(),
      imagesReported: 0,
    };
    this.running.set(job.id, run);
    outputs.open(this.resumeSteps.get(job.id) ?? null);
    const peers = members.map((w) => w.collectiveAddress);
    members.forEach((w, rank) => {
      w.jobId = job.id;
      w.rank = rank;
      w.step = 0;
      w.finished = false;
      w.lastHeartbeat = this.now();
    });
    this.log(
      `job ${job.id}: rendezvous, generation ${job.generation}: ${members.map(describeWorker).join('; ')}`,
    );
    const c = job.config;
    members.forEach((w, rank) =>
      w.send({
        assignment: {
          jobId: job.id,
          generation: job.generation,
          rank,
          worldSize: n,
          peers,
          configJson: JSON.stringify(c),
          resume: c.resume,
          heartbeatIntervalMs: Math.max(
            100,
            Math.floor((c.heartbeatTimeout * 1000) / HEARTBEATS_PER_TIMEOUT),
          ),
          collectiveTimeoutMs: Math.round(c.collectiveTimeout * 1000),
          digestEvery: c.digestEvery,
          metricsPort: c.metricsPort > 0 ? c.metricsPort + 1 + rank : 0,
        },
      }),
    );
  }

  private member(workerId: string, jobId: string): { w: WorkerRecord; run: RunningJob | undefined } {
    const w = this.workers.get(workerId);
    if (!w) throw new ClusterError('WORKER_LOST', `this coordinator does not know worker ${workerId}`);
    if (w.jobId !== jobId) {
      throw new ClusterError('JOB_FAILED', `${describeWorker(w)} is not assigned to job ${jobId}`);
    }
    return { w, run: this.running.get(jobId) };
  }

  private fail(run: RunningJob, reason: string): void {
    run.metrics.recordWorkerFailure();
    this.end(run.job, 'FAILED', reason);
  }

  private end(job: Job, state: 'SUCCEEDED' | 'FAILED' | 'CANCELLED', reason: string): void {
    job.transition(state, reason, this.now());
    const run = this.running.get(job.id);
    if (run) {
      run.metrics.setJobState(state);
      run.metrics.setLiveWorkers(0);
      for (const w of this.workers.ofJob(job.id)) run.metrics.forgetWorker(w.rank);
      run.outputs.close();
    }
    this.log(`job ${job.id}: ${state.toLowerCase()}${state === 'SUCCEEDED' ? '' : `: ${reason}`}`);
    this.emit(job, 'state');
    for (const w of this.workers.ofJob(job.id)) {
      if (state !== 'SUCCEEDED')
        w.send({ abort: { reason: `job ${job.id} ${state.toLowerCase()}: ${reason}` } });
    }
    for (const resolve of this.waiters.get(job.id) ?? []) resolve(job);
    this.waiters.delete(job.id);
    this.tick();
  }
}
