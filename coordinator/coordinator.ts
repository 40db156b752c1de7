/**
 * The coordinator's decisions, apart from any transport: its pool of workers, the job queue, when a
 * job starts (job-scheduler.ts), succeeds or fails, what goes into its output directory. A running
 * job's membership across generations (who is lost, who joins, who leaves) is its
 * {@link ElasticJob}. Every decision leaves each job's record with the journal (the control store),
 * and {@link Coordinator.restore} takes up the records another coordinator left. The gRPC server
 * (coordinator-server.ts) turns calls into these methods; a timer calls {@link Coordinator.tick}.
 * Tests drive it directly with a fake clock. It never imports tfjs.
 */
import { randomBytes } from 'node:crypto';
import type { JobConfig } from '../core/config/job-config.js';
import type { StepLogEntry } from '../core/elastic/step-log.js';
import { ClusterError } from '../core/errors.js';
import { sameSecret } from '../core/security/bearer-token.js';
import { createCoordinatorMetrics, type CoordinatorMetrics } from '../core/metrics/coordinator-metrics.js';
import type { CheckpointData } from '../core/train/checkpoint.js';
import type { FailureReason } from '../core/train/run-results.js';
import type { ResultFile } from '../proto/result-codec.js';
import type { WorkerEvent } from '../proto/coordinator-service.js';
import { ElasticJob, type GenerationEnd, type JobContext } from './elastic-job.js';
import { Job, JOB_STATES, type JobState } from './job.js';
import type { JobEventSink } from './job-events.js';
import type { JobJournal } from './job-journal.js';
import { JobOutputs } from './job-outputs.js';
import type { JobRecord, StoredWorker } from './job-record.js';
import { JobScheduler } from './job-scheduler.js';
import { describeWorker, WorkerRegistry, type WorkerRecord } from './worker-registry.js';
import { stderrLog, type Log } from '../core/logging/log.js';
import {
  curveOf,
  isPng,
  LIVE_PICTURE_BYTES,
  PICTURE_NAME,
  thinCurve,
  type JobPageData,
} from '../core/job-page/job-page-data.js';
import { renderJobPage } from '../core/job-page/job-page-html.js';

/** Options of a {@link Coordinator}. */
export interface CoordinatorOptions {
  /** Milliseconds clock; default Date.now. */
  readonly now?: () => number;
  /** One-off messages; default stderr in the process's log format. */
  readonly log?: Log;
  /** Heartbeat timeout of workers without a job, in ms; default 10 s. */
  readonly idleHeartbeatTimeoutMs?: number;
  /**
   * How long a closed Join stream waits for a launcher's word that the process exited, so that the
   * loss is recorded as `exited` rather than `lost`; default 0 (a standalone coordinator has no
   * launcher: it acts at once).
   */
  readonly disconnectGraceMs?: number;
  /** Called after every progress report of a job's rank 0. */
  readonly onProgress?: (job: Job) => void;
  /** Receives every change of a job's state and rank 0's progress (e.g. NATS). */
  readonly events?: JobEventSink;
  /** Takes every job's record after each decision (the control store); none: memory only. */
  readonly journal?: JobJournal;
  /**
   * How long a worker of a job restored from the store has to join again before it counts as
   * lost; default 30 s.
   */
  readonly adoptGraceMs?: number;
}

/** Where a worker that joins again says it stands. */
export interface Placement {
  /** '' when idle. */
  readonly jobId: string;
  readonly generation: number;
  readonly rank: number;
  readonly step: number;
}

/** What a joining worker says about itself. */
export interface JoinInfo {
  readonly id: string;
  readonly hostname: string;
  readonly pid: number;
  readonly collectiveAddress: string;
  readonly metricsAddress: string;
  /** SHA-256 of the worker's key (none: '' ): it binds the id to this process. */
  readonly keyHash?: string;
  /** Given when it joins again; absent for a first Join. */
  readonly placement?: Placement;
}

/** A member's progress report. */
export interface ProgressInfo {
  readonly workerId: string;
  readonly jobId: string;
  readonly generation: number;
  readonly step: number;
  readonly totalSteps: number;
  readonly imagesSeen: number;
  readonly loss: number;
  /** Rank 0 only: committed steps' records, in step order. */
  readonly log: readonly StepLogEntry[];
  /** Rank 0 only: pictures made since its last report, for the job page. */
  readonly pictures?: readonly { readonly name: string; readonly data: Buffer }[];
}

/** A worker's report of a failure no re-forming can mend. */
export interface FailureInfo {
  readonly workerId: string;
  readonly jobId: string;
  readonly generation: number;
  readonly code: string;
  readonly message: string;
  readonly peer: number;
}

/** A member's GenerationDone. */
export interface GenerationDoneInfo extends GenerationEnd {
  readonly workerId: string;
  readonly jobId: string;
  readonly generation: number;
}

/** A heartbeat's answer. */
export interface HeartbeatAnswer {
  readonly stop: boolean;
  readonly reason: string;
  readonly unknown: boolean;
  readonly recordedStep: number;
  /** It has no Join stream here: it should open one. */
  readonly joinAgain: boolean;
}

export class Coordinator {
  readonly workers = new WorkerRegistry();
  private readonly jobs: Job[] = [];
  /** Job pages and pictures being written (settled() waits for them). */
  private readonly writes = new Set<Promise<void>>();
  private readonly running = new Map<string, ElasticJob>();
  private readonly waiters = new Map<string, Array<(job: Job) => void>>();
  private readonly now: () => number;
  private readonly log: Log;
  private readonly idleTimeoutMs: number;
  private readonly onProgress: ((job: Job) => void) | null;
  private readonly events: JobEventSink | null;
  private lastMetrics: CoordinatorMetrics<JobState> | null = null;
  private readonly resumeSteps = new Map<string, number | null>();
  private readonly scheduler = new JobScheduler();
  /** Whether a queued job waits for idle workers (running jobs then do not grow into them). */
  private queueWaiting = false;
  private readonly context: JobContext;
  private readonly disconnectGraceMs: number;
  /** Workers without a Join stream, and when they count as gone unless they join again. */
  private readonly disconnected = new Map<WorkerRecord, number>();
  /** Events sent to workers without a stream, sent once they join again. */
  private readonly held = new Map<WorkerRecord, WorkerEvent[]>();
  private readonly journal: JobJournal | null;
  private readonly adoptGraceMs: number;
  /** Ended jobs whose final record has been handed to the journal. */
  private readonly recorded = new Set<string>();
  private sequence = 0;
  private persistScheduled = false;

  constructor(opts: CoordinatorOptions = {}) {
    this.now = opts.now ?? Date.now;
    this.log = opts.log ?? stderrLog('coordinator');
    this.idleTimeoutMs = opts.idleHeartbeatTimeoutMs ?? 10_000;
    this.disconnectGraceMs = opts.disconnectGraceMs ?? 0;
    this.onProgress = opts.onProgress ?? null;
    this.events = opts.events ?? null;
    this.journal = opts.journal ?? null;
    this.adoptGraceMs = opts.adoptGraceMs ?? 30_000;
    this.context = {
      now: () => this.now(),
      log: (line, fields) => this.log(line, fields),
      // A worker whose stream just closed is about to be lost: never a candidate.
      idle: () => this.idleWorkers(),
      spare: () => (this.queueWaiting ? [] : this.idleWorkers()),
      transition: (job, to, reason) => this.transition(job, to, reason),
      fail: (job, reason) => this.end(job, 'FAILED', reason),
      lost: (job, what) => this.emit(job, 'failure', what),
    };
  }

  /** Publishes the job's state (after a transition), progress or a lost worker to the event sink. */
  private emit(job: Job, kind: 'state' | 'progress' | 'failure', what = ''): void {
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
      reason: kind === 'state' ? last.reason : what,
      at: kind === 'state' ? last.at : this.now(),
    });
  }

  private transition(job: Job, to: JobState, reason: string): void {
    job.transition(to, reason, this.now());
    this.running.get(job.id)?.metrics.setJobState(to);
    this.emit(job, 'state');
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

  /** The running job `id`'s membership, if it runs. */
  elastic(id: string): ElasticJob | undefined {
    return this.running.get(id);
  }

  /**
   * Queues a job; it starts when enough workers are idle and the jobs before it have ended. A
   * resumed job must find its checkpoint now, not after workers have been gathered.
   */
  submit(config: JobConfig, id = ''): Job {
    if (id !== '' && this.has(id)) return this.job(id);
    const outputs = new JobOutputs(config.out);
    const resumeStep = config.resume ? outputs.checkpointStep() : null;
    this.sequence += 1;
    const job = new Job(
      id || `${config.model}-${randomBytes(4).toString('hex')}`,
      config,
      this.now(),
      this.sequence,
    );
    this.resumeSteps.set(job.id, resumeStep);
    this.jobs.push(job);
    this.log(
      `job ${job.id}: submitted (${config.model}, ${config.minWorkers}-${config.workers} workers, out ${config.out})`,
      { job: job.id },
    );
    this.emit(job, 'state');
    this.reconsider();
    return job;
  }

  /** Whether this coordinator has a job `id` (queued, running or ended). */
  has(id: string): boolean {
    return this.jobs.some((j) => j.id === id);
  }

  /**
   * Takes up the jobs a stopped coordinator left in the store: queued ones stay queued, running
   * ones go on with the workers their records name, which have {@link adoptGraceMs} to join again
   * (they keep training meanwhile); one that does not is lost, as a worker whose stream broke.
   */
  restore(records: readonly JobRecord[]): void {
    const now = this.now();
    for (const r of [...records].sort((a, b) => a.job.sequence - b.job.sequence)) {
      if (this.has(r.job.id)) continue;
      const job = Job.restore(r.job);
      this.jobs.push(job);
      this.sequence = Math.max(this.sequence, job.sequence);
      this.resumeSteps.set(job.id, r.resumeStep);
      if (job.terminal) {
        this.recorded.add(job.id);
        continue;
      }
      if (job.state === 'PENDING') continue;
      if (r.membership === null) {
        this.end(job, 'FAILED', `its record says ${job.state} but holds no membership`);
        continue;
      }
      const byId = new Map<string, WorkerRecord>();
      try {
        const run = this.launch(job, true);
        for (const sw of r.workers) {
          const w: WorkerRecord = {
            ...sw,
            send: (e) => this.hold(w, e),
            lastHeartbeat: now,
            jobId: job.id,
            step: 0,
            fenced: false,
          };
          byId.set(w.id, w);
        }
        run.restore(r.membership, byId);
      } catch (err) {
        // One job that cannot be taken up (its directory is damaged) fails alone.
        this.running.delete(job.id);
        this.end(
          job,
          'FAILED',
          `could not be taken up after a coordinator change: ${(err as Error).message}`,
        );
        continue;
      }
      for (const w of byId.values()) {
        this.workers.restore(w);
        this.disconnected.set(w, now + this.adoptGraceMs);
      }
      this.log(
        `job ${job.id}: taken up ${job.state} at generation ${job.generation}, step ${job.step}; ` +
          `waiting up to ${(this.adoptGraceMs / 1000).toFixed(0)} s for ${byId.size} worker(s) to join again`,
        { job: job.id, generation: job.generation, step: job.step },
      );
    }
    this.tick();
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

  /** Cancels a job that has not ended; its workers are told to stop and return to the pool. */
  cancel(jobId: string, reason: string): Job {
    const job = this.job(jobId);
    if (!job.terminal) this.end(job, 'CANCELLED', reason || 'cancelled by a client');
    return job;
  }

  /** Fails a job that has not ended. */
  failJob(jobId: string, reason: string): Job {
    const job = this.job(jobId);
    if (!job.terminal) this.end(job, 'FAILED', reason);
    return job;
  }

  /**
   * Registers a worker whose Join call arrived. The same process joining again (its stream broke,
   * this coordinator took its job over, or it opened a new stream before closing the old) takes
   * its record back, with what was held for it; false when another process holds the id.
   */
  join(info: JoinInfo, send: WorkerRecord['send']): boolean {
    const known = this.workers.get(info.id);
    if (known) {
      if (known.hostname !== info.hostname || known.pid !== info.pid) return false;
      if (!this.keyMatches(info.id, info.keyHash ?? '')) return false;
      // A record restored from before keys existed is bound by the first Join that shows one.
      known.keyHash ||= info.keyHash ?? '';
      this.rejoin(known, info.placement, send);
      return true;
    }
    const ok = this.workers.add({
      id: info.id,
      hostname: info.hostname,
      pid: info.pid,
      collectiveAddress: info.collectiveAddress,
      metricsAddress: info.metricsAddress,
      joinedAt: this.now(),
      keyHash: info.keyHash ?? '',
      send,
    });
    if (ok) {
      this.log(`worker ${info.id} joined from ${info.hostname} (collective ${info.collectiveAddress})`, {
        worker: info.id,
      });
    }
    this.reconsider();
    return ok;
  }

  /**
   * Whether a call as worker `workerId` may be taken from a caller showing a key of hash `keyHash`:
   * the worker is unknown here (the call then fails on its own), joined without a key, or with
   * this one.
   */
  keyMatches(workerId: string, keyHash: string): boolean {
    const w = this.workers.get(workerId);
    return !w || w.keyHash === '' || sameSecret(w.keyHash, keyHash);
  }

  /**
   * A worker's Join call ended (the one of `send`, when given): the worker left, cleanly or not.
   * With a disconnect grace it is acted on once that has passed (a launcher that saw the process
   * exit says so first); else at once.
   */
  leave(workerId: string, send?: WorkerRecord['send']): void {
    const w = this.workers.get(workerId);
    if (!w || this.disconnected.has(w)) return;
    // The end of a stream the worker has since replaced by another says nothing.
    if (send && w.send !== send) return;
    this.disconnected.set(w, this.now() + this.disconnectGraceMs);
    w.send = (e) => this.hold(w, e);
    if (this.disconnectGraceMs === 0) this.tick();
    else setTimeout(() => this.tick(), this.disconnectGraceMs).unref();
  }

  /** The process of a worker exited (seen by its launcher): act now, without waiting for its stream. */
  workerExited(hostname: string, pid: number, how: string): void {
    const w = this.workers.byProcess(hostname, pid);
    if (!w) return;
    this.disconnected.delete(w);
    this.held.delete(w);
    // Out of the pool first, so that the generation formed without it cannot pick it.
    this.workers.remove(w.id);
    this.lose(w, w.leaving ? 'left' : 'exited', `exited with ${how}`);
  }

  /** The worker is going away for good (SIGTERM); its job re-forms without it. */
  leaveRequest(workerId: string, reason: string): void {
    const w = this.workers.get(workerId);
    if (!w) return;
    this.log(`${describeWorker(w)} is leaving: ${reason || 'asked to'}`, { worker: w.id });
    const run = w.jobId === null ? undefined : this.running.get(w.jobId);
    if (run) run.leaveRequested(w);
    else w.leaving = true;
    this.reconsider();
  }

  /** A heartbeat from the worker's control thread; the answer tells it whether to stop its job. */
  heartbeat(workerId: string, jobId: string, generation: number, step: number): HeartbeatAnswer {
    const w = this.workers.get(workerId);
    if (!w || !this.workers.heartbeat(workerId, this.now(), step)) {
      return {
        stop: true,
        unknown: true,
        recordedStep: 0,
        reason: `this coordinator does not know worker ${workerId}`,
        joinAgain: true,
      };
    }
    const run = jobId === '' ? undefined : this.running.get(jobId);
    if (run && w.jobId === jobId) run.metrics.recordHeartbeat(w.rank, this.now());
    const joinAgain = this.disconnected.has(w);
    const fenced = w.fenced;
    // Alive again: once this answer has told it to drop its old job, it may take work.
    w.fenced = false;
    if (jobId !== '' && w.jobId !== jobId) {
      const job = this.jobs.find((j) => j.id === jobId);
      const why =
        job?.terminal && !fenced
          ? `job ${jobId} ${job.state.toLowerCase()}: ${job.message}`
          : `fenced: worker ${workerId} is no longer a member of job ${jobId} generation ${generation}`;
      return { stop: true, unknown: false, recordedStep: 0, reason: why, joinAgain };
    }
    return { stop: false, unknown: false, reason: '', recordedStep: run?.recordedStep ?? 0, joinAgain };
  }

  /** A member's progress; rank 0's carries the committed steps' records. Returns the recorded step. */
  report(p: ProgressInfo): number {
    const { w, run } = this.member(p.workerId, p.jobId);
    if (!run || run.job.terminal) return 0;
    run.checkMember(w, p.generation);
    const { job } = run;
    run.progress(w, p.step);
    if (w.rank !== 0) return run.recordedStep;
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
    for (const picture of p.pictures ?? []) this.keepPicture(run, w, picture);
    if (p.log.length > 0) {
      try {
        run.outputs.appendLog(p.log);
      } catch (err) {
        this.end(
          job,
          'FAILED',
          `the records of ${describeWorker(w)} do not continue the job's: ${(err as Error).message}`,
        );
        throw err;
      }
      if (p.log.some((e) => e.record)) this.emit(job, 'progress');
    }
    this.onProgress?.(job);
    this.persist();
    return run.recordedStep;
  }

  /** A member says where its generation ended for it. */
  generationDone(d: GenerationDoneInfo): void {
    const { w, run } = this.member(d.workerId, d.jobId);
    if (!run || run.job.terminal) return;
    run.checkMember(w, d.generation);
    this.log(
      `job ${d.jobId}: ${describeWorker(w)} ended generation ${d.generation}: ${d.reason} at step ${d.step}` +
        (d.detail ? ` (${d.detail})` : ''),
      { job: d.jobId, generation: d.generation, step: d.step, worker: w.id, rank: w.rank },
    );
    run.generationDone(w, d);
    this.reconsider();
  }

  /** A worker's failure that no re-forming can mend fails its job. */
  failure(f: FailureInfo): void {
    const { w, run } = this.member(f.workerId, f.jobId);
    if (!run || run.job.terminal) return;
    if (run.evaluator !== w) run.checkMember(w, f.generation);
    const peer = f.peer >= 0 ? ` (peer rank ${f.peer})` : '';
    this.end(run.job, 'FAILED', `${describeWorker(w)} failed [${f.code}]${peer}: ${f.message}`);
  }

  /** The checkpoint a generation that starts from it reads. */
  async fetchState(workerId: string, jobId: string): Promise<CheckpointData> {
    const { run } = this.member(workerId, jobId);
    if (!run) throw new ClusterError('JOB_FAILED', `job ${jobId} is not running`);
    return run.outputs.readCheckpoint();
  }

  /** Writes rank 0's state as the job's checkpoint. */
  async saveState(workerId: string, jobId: string, generation: number, data: CheckpointData): Promise<void> {
    const { w, run } = this.member(workerId, jobId);
    if (!run || run.job.terminal) throw new ClusterError('JOB_FAILED', `job ${jobId} is not running`);
    run.checkMember(w, generation);
    if (!run.isRankZero(w)) throw new ClusterError('JOB_FAILED', `${describeWorker(w)} is not rank 0`);
    try {
      await run.outputs.writeCheckpoint(data);
    } catch (err) {
      run.metrics.recordCheckpointFailure();
      throw err;
    }
    run.checkpointed(data.cursor.step);
    run.metrics.recordCheckpoint();
    this.persist();
  }

  /** Writes the results of the worker that evaluated the job; the job has succeeded. */
  async finish(
    workerId: string,
    jobId: string,
    summary: Record<string, unknown>,
    files: readonly ResultFile[],
  ): Promise<void> {
    const { w, run } = this.member(workerId, jobId);
    if (!run || run.job.terminal) throw new ClusterError('JOB_FAILED', `job ${jobId} is not running`);
    if (run.evaluator !== w)
      throw new ClusterError('FENCED', `${describeWorker(w)} is not evaluating job ${jobId}`);
    const wall = (this.now() - run.job.submittedAt) / 1000;
    await run.outputs.writeResults(
      { ...summary, workers: run.job.worldSize, wall_seconds: wall, ...run.facts() },
      files,
    );
    this.end(run.job, 'SUCCEEDED', `${describeWorker(w)} wrote the results`);
  }

  /**
   * One pass of the control loop: members whose heartbeats stopped are lost (hung), idle workers
   * that stopped are dropped, running jobs meet their deadlines and take in idle workers, and the
   * oldest pending job starts once it has its workers.
   */
  tick(): void {
    const now = this.now();
    for (const [w, gone] of [...this.disconnected]) {
      if (now < gone) continue;
      this.disconnected.delete(w);
      this.held.delete(w);
      if (this.workers.get(w.id) !== w) continue;
      this.workers.remove(w.id);
      this.lose(
        w,
        w.leaving ? 'left' : 'lost',
        w.leaving ? 'left' : 'lost its connection to the coordinator',
      );
    }
    for (const w of this.workers.all()) {
      if (this.disconnected.has(w)) continue;
      const run = w.jobId === null ? undefined : this.running.get(w.jobId);
      const silent = now - w.lastHeartbeat;
      if (!run) {
        if (silent > this.idleTimeoutMs) {
          this.workers.remove(w.id);
          this.log(`${describeWorker(w)} dropped: no heartbeat for ${(silent / 1000).toFixed(1)} s`, {
            worker: w.id,
          });
        }
        continue;
      }
      if (silent > run.job.config.heartbeatTimeout * 1000) {
        this.lose(w, 'hung', `sent no heartbeat for ${(silent / 1000).toFixed(1)} s`);
      }
    }
    this.reconsider();
  }

  /**
   * After a change that frees or asks for workers (a join, a job's end, a submission): running jobs
   * may take idle workers and queued ones may start. The sweep over every worker's heartbeat is
   * left to {@link tick}: a burst of thousands of joins must not cost a sweep each.
   */
  private reconsider(): void {
    const now = this.now();
    for (const run of [...this.running.values()]) if (!run.job.terminal) run.tick(now);
    this.startNext(now);
    this.persist();
  }

  /** Hands the journal every changed record now and resolves once the store holds them. */
  async persisted(): Promise<void> {
    this.persistNow();
    await this.journal?.flushAll();
  }

  /** Jobs and workers, for `harmonium status`. */
  status(): { jobs: readonly Job[]; workers: readonly WorkerRecord[] } {
    return { jobs: this.jobs, workers: this.workers.all() };
  }

  /** Workers free to take work: idle, and not about to be lost. */
  private idleWorkers(): WorkerRecord[] {
    return this.workers.idle().filter((w) => !this.disconnected.has(w));
  }

  /** Queued jobs start as the scheduler decides (job-scheduler.ts), each on workers of its own. */
  private startNext(now: number): void {
    const pending = this.jobs.filter((j) => j.state === 'PENDING');
    if (pending.length === 0) {
      this.queueWaiting = false;
      return;
    }
    const queue = pending
      .sort((a, b) => a.sequence - b.sequence)
      .map((j) => ({
        id: j.id,
        minWorkers: j.config.minWorkers,
        workers: j.config.workers,
        rendezvousTimeoutMs: j.config.rendezvousTimeout * 1000,
        queuedAt: j.submittedAt,
      }));
    const { start, waiting } = this.scheduler.decide(
      queue,
      this.idleWorkers().length,
      this.workers.all().length,
      now,
    );
    this.queueWaiting = waiting;
    for (const s of start) this.start(this.job(s.id));
  }

  private start(job: Job): void {
    this.launch(job, false).begin();
  }

  /** The job's metrics, outputs and membership; `adopt`: its outputs hold what ran before. */
  private launch(job: Job, adopt: boolean): ElasticJob {
    const metrics = createCoordinatorMetrics({ job: job.id, model: job.config.model, states: JOB_STATES });
    this.lastMetrics = metrics;
    const outputs = new JobOutputs(job.config.out);
    const resumeStep = this.resumeSteps.get(job.id) ?? null;
    if (adopt) outputs.adopt(job.config.auditSamples);
    else outputs.open(resumeStep, job.config.auditSamples);
    const run = new ElasticJob(job, this.context, { outputs, metrics, checkpointStep: resumeStep });
    this.running.set(job.id, run);
    metrics.setJobState(job.state);
    return run;
  }

  /**
   * The worker of record `w` joined again: its stream is back (or replaced), and so is what waited
   * for it. Where it says it stands counts only if it was away: a live worker's placement may lag
   * an assignment it has not read yet.
   */
  private rejoin(w: WorkerRecord, p: Placement | undefined, send: WorkerRecord['send']): void {
    const wasAway = this.disconnected.delete(w);
    w.send = send;
    w.lastHeartbeat = Math.max(w.lastHeartbeat, this.now());
    for (const e of this.held.get(w) ?? []) send(e);
    this.held.delete(w);
    if (!wasAway) return;
    const run = w.jobId === null ? undefined : this.running.get(w.jobId);
    this.log(`${describeWorker(w)} joined again${run ? ` (job ${run.job.id})` : ''}`, {
      worker: w.id,
      ...(run ? { job: run.job.id } : {}),
    });
    if (run && !run.job.terminal && p) {
      if (p.jobId !== w.jobId) {
        this.lose(w, 'lost', `came back without job ${run.job.id}`);
      } else if (p.generation > w.generation) {
        // The record is older than the worker (stored before the generation was): re-form.
        run.resync(w, p.generation);
      }
    }
    this.reconsider();
  }

  private hold(w: WorkerRecord, e: WorkerEvent): void {
    const list = this.held.get(w) ?? [];
    list.push(e);
    this.held.set(w, list);
  }

  /**
   * Hands the journal every changed record once the decisions of this turn of the event loop are
   * made: thousands of calls in one burst cost one pass, not one each.
   */
  private persist(): void {
    if (!this.journal || this.persistScheduled) return;
    this.persistScheduled = true;
    setImmediate(() => this.persistNow());
  }

  /** Hands the journal every job whose record changed (ended jobs once more, then never). */
  private persistNow(): void {
    this.persistScheduled = false;
    if (!this.journal) return;
    for (const job of this.jobs) {
      if (this.recorded.has(job.id)) continue;
      this.journal.record(job.id, JSON.stringify(this.recordOf(job)));
      if (job.terminal) this.recorded.add(job.id);
    }
  }

  private recordOf(job: Job): JobRecord {
    const run = job.terminal ? undefined : this.running.get(job.id);
    const stored = (w: WorkerRecord): StoredWorker => ({
      id: w.id,
      hostname: w.hostname,
      pid: w.pid,
      collectiveAddress: w.collectiveAddress,
      metricsAddress: w.metricsAddress,
      joinedAt: w.joinedAt,
      keyHash: w.keyHash,
      generation: w.generation,
      rank: w.rank,
      leaving: w.leaving,
    });
    return {
      version: 1,
      job: job.snapshot(),
      resumeStep: this.resumeSteps.get(job.id) ?? null,
      membership: run ? run.snapshot() : null,
      workers: run ? this.workers.ofJob(job.id).map(stored) : [],
    };
  }

  private lose(w: WorkerRecord, reason: FailureReason, detail: string): void {
    const run = w.jobId === null ? undefined : this.running.get(w.jobId);
    if (run && !run.job.terminal) run.lose(w, reason, detail);
  }

  private member(workerId: string, jobId: string): { w: WorkerRecord; run: ElasticJob | undefined } {
    const w = this.workers.get(workerId);
    if (!w) throw new ClusterError('WORKER_LOST', `this coordinator does not know worker ${workerId}`);
    if (w.jobId !== jobId) {
      throw new ClusterError('FENCED', `${describeWorker(w)} is not assigned to job ${jobId}`);
    }
    return { w, run: this.running.get(jobId) };
  }

  /** Writes a picture rank 0 reported into the job's outputs; one that is not a PNG of a plain name is refused, naming it. */
  private keepPicture(run: ElasticJob, w: WorkerRecord, picture: { name: string; data: Buffer }): void {
    const where = `job ${run.job.id}: a picture from ${describeWorker(w)}`;
    if (
      !PICTURE_NAME.test(picture.name) ||
      picture.data.length > LIVE_PICTURE_BYTES ||
      !isPng(picture.data)
    ) {
      this.log(
        `${where} was refused: ${JSON.stringify(picture.name.slice(0, 140))} is not a PNG of a plain name of at most ${LIVE_PICTURE_BYTES} bytes`,
        { job: run.job.id },
      );
      return;
    }
    this.track(
      run.outputs.writePicture(picture.name, picture.data).catch((err: unknown) => {
        this.log(`${where} could not be written: ${(err as Error).message}`, { job: run.job.id });
      }),
    );
  }

  /** Keeps `write` until it settles, so that {@link settled} can wait for the job's files. */
  private track(write: Promise<void>): void {
    this.writes.add(write);
    void write.finally(() => this.writes.delete(write));
  }

  /**
   * Resolves once every page and picture write started so far has finished, or after `timeoutMs`
   * (a volume that stopped answering), saying how many it gave up on.
   */
  async settled(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.writes.size > 0) {
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<'late'>(
        (resolve) => (timer = setTimeout(() => resolve('late'), deadline - Date.now())),
      );
      const done = await Promise.race([Promise.all([...this.writes]), late]);
      clearTimeout(timer);
      if (done === 'late') {
        this.log(
          `${this.writes.size} job page or picture write(s) still unfinished after ${timeoutMs} ms; not waiting longer`,
        );
        return;
      }
    }
  }

  /** The jobs, oldest first, for the job pages' list. */
  jobList(): readonly { id: string; state: string; model: string }[] {
    return this.jobs.map((j) => ({ id: j.id, state: j.state, model: j.config.model }));
  }

  /** What job `jobId`'s page shows, or null when there is no such job. */
  pageData(jobId: string): JobPageData | null {
    const job = this.jobs.find((j) => j.id === jobId);
    if (!job) return null;
    const run = this.running.get(jobId);
    const now = this.now();
    return {
      job: {
        id: job.id,
        state: job.state,
        message: job.message,
        model: job.config.model,
        generation: job.generation,
        step: job.step,
        totalSteps: job.totalSteps,
        worldSize: job.worldSize,
        workers: job.config.workers,
        minWorkers: job.config.minWorkers,
        submittedAt: job.submittedAt,
        endedAt: job.endedAt ?? null,
      },
      ranks: (run?.membersView() ?? []).map((w) => ({
        rank: w.rank,
        worker: w.id,
        step: w.step,
        heartbeatAgeSeconds: w.lastHeartbeat > 0 ? Math.max(0, (now - w.lastHeartbeat) / 1000) : null,
      })),
      generations: (run?.generations ?? []).map((g) => ({
        generation: g.generation,
        fromStep: g.from_step,
        workers: g.workers,
        start: g.start,
        formedAt: g.formed_at,
        firstStepAt: g.first_step_at,
        endedBecause: g.ended_because,
      })),
      failures: (run?.failures ?? []).map((f) => ({
        worker: f.worker_id,
        reason: f.reason,
        generation: f.generation,
        step: f.step,
      })),
      curve: thinCurve(curveOf(run?.outputs.metricsRecords() ?? [])),
      pictures: run?.outputs.pictureNames() ?? [],
      updatedAt: now,
    };
  }

  /** A picture of job `jobId`, or null. */
  async picture(jobId: string, name: string): Promise<Buffer | null> {
    return (await this.running.get(jobId)?.outputs.readPicture(name)) ?? null;
  }

  private end(job: Job, state: 'SUCCEEDED' | 'FAILED' | 'CANCELLED', reason: string): void {
    if (job.terminal) return;
    const run = this.running.get(job.id);
    job.transition(state, reason, this.now());
    if (run) {
      run.metrics.setJobState(state);
      run.metrics.setLiveWorkers(0);
      run.end(state, reason);
    }
    this.log(`job ${job.id}: ${state.toLowerCase()}${state === 'SUCCEEDED' ? '' : `: ${reason}`}`, {
      job: job.id,
      generation: job.generation,
      step: job.step,
    });
    this.emit(job, 'state');
    const data = run ? this.pageData(job.id) : null;
    if (run && data) {
      this.track(
        run.outputs
          .writeJobPage(renderJobPage(data, { live: false, picturesBase: '' }))
          .catch((err: unknown) =>
            this.log(`job ${job.id}: job.html: ${(err as Error).message}`, { job: job.id }),
          ),
      );
    }
    for (const resolve of this.waiters.get(job.id) ?? []) resolve(job);
    this.waiters.delete(job.id);
    this.reconsider();
  }
}
