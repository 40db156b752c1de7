/**
 * One running job's membership, generation after generation: the coordinator's half of elastic
 * training. A generation is formed (assignments sent), trains, and ends when a member is lost (its
 * group is closed at once: EndGeneration), or when a worker joins or leaves (its members drain:
 * they stop together after one committed step). Every member then says how many steps it
 * committed (GenerationDone), and the next generation is planned from those that answered plus
 * idle workers (core/elastic/generation-plan.ts). No worker is restarted and no state goes
 * through the coordinator: a member that is behind or new receives it from a peer.
 *
 *   forming --all members hold the state--> training --loss--> collecting --all answered--> forming
 *                                            training --join/leave--> draining --all answered--> forming
 *   collecting/draining --fewer than --min-workers--> waiting --enough idle--> forming | timeout: FAILED
 *   training --every member finished--> finishing --results written--> SUCCEEDED
 *
 * Everything here is decided in the coordinator's event loop, so no two decisions interleave.
 */
import { randomBytes } from 'node:crypto';
import type { JobConfig } from '../core/config/job-config.js';
import { planGeneration, type SurvivorReport } from '../core/elastic/generation-plan.js';
import { ClusterError } from '../core/errors.js';
import type { CoordinatorMetrics, FailureReasonLabel } from '../core/metrics/coordinator-metrics.js';
import type { FailureReason, WorkerFailure, WorldSizeChange } from '../core/train/run-results.js';
import type { Job, JobState } from './job.js';
import type { JobOutputs } from './job-outputs.js';
import { describeWorker, type WorkerRecord } from './worker-registry.js';
import type { Log } from '../core/logging/log.js';

/** Heartbeats a worker is told to send per heartbeat timeout. */
const HEARTBEATS_PER_TIMEOUT = 4;

/** Where a job's membership stands. */
export type MembershipPhase = 'forming' | 'training' | 'draining' | 'collecting' | 'waiting' | 'finishing';

/** What a member says when its generation ended for it. */
export interface GenerationEnd {
  readonly reason: 'drained' | 'broken' | 'finished' | 'leaving';
  /** Steps it committed; -1 when it holds none of the job's state. */
  readonly step: number;
  readonly inProgress: boolean;
  /** For 'broken': what broke, from its side. */
  readonly detail: string;
  /** For 'finished' from rank 0: its training totals (JSON). */
  readonly totals: string;
}

/** One generation as summary.json lists it. */
export interface GenerationRecord {
  readonly generation: number;
  readonly from_step: number;
  readonly workers: number;
  /** How its state started: fresh, checkpoint or peers. */
  readonly start: string;
  /** Unix milliseconds: assignments sent, and the first step it committed (null if none). */
  readonly formed_at: number;
  first_step_at: number | null;
  /** Why it ended; '' while it runs. */
  ended_because: string;
}

/**
 * An elastic job's membership as the control store keeps it: the workers by id (their records are
 * stored beside it), the phase, what each member said, and the history summary.json reports.
 */
export interface MembershipSnapshot {
  readonly phase: MembershipPhase;
  /** The current generation's members by rank (the survivors while waiting). */
  readonly members: readonly string[];
  readonly evaluator: string | null;
  readonly ends: Readonly<Record<string, GenerationEnd>>;
  readonly ready: readonly string[];
  readonly survivors: readonly SurvivorReport[];
  readonly failures: readonly WorkerFailure[];
  readonly worldSizes: readonly WorldSizeChange[];
  readonly generations: readonly GenerationRecord[];
  readonly stepsRedone: number;
  readonly committed: number;
  readonly startStep: number;
  readonly checkpointStep: number | null;
  readonly deadline: number | null;
  readonly recoveryFrom: number | null;
  readonly totals: string;
  readonly imagesReported: number;
  readonly startedAt: number;
}

/** What an elastic job needs from the coordinator around it. */
export interface JobContext {
  now(): number;
  log: Log;
  /** Workers free to join, in join order. */
  idle(): WorkerRecord[];
  /** Idle workers no queued job waits for: those a job that trains may grow into. */
  spare(): WorkerRecord[];
  /** Records a job state change (and publishes it). */
  transition(job: Job, to: JobState, reason: string): void;
  /** Ends the job: FAILED with `reason`. */
  fail(job: Job, reason: string): void;
  /** The job lost or released a worker (`what` says which, why and at what step): published. */
  lost(job: Job, what: string): void;
}

export class ElasticJob {
  readonly job: Job;
  readonly outputs: JobOutputs;
  readonly metrics: CoordinatorMetrics<JobState>;
  private readonly ctx: JobContext;
  private readonly config: JobConfig;
  phase: MembershipPhase = 'waiting';
  /** The current generation's members, by rank (also the survivors while waiting). */
  private members: WorkerRecord[] = [];
  private readonly ends = new Map<string, GenerationEnd>();
  private readonly ready = new Set<string>();
  /**
   * Each worker's /metrics slot in this job (port --metrics-port + 1 + slot), given when it first
   * joins and kept: a worker serves on the port of its first assignment for the whole job, so a
   * joiner takes the lowest slot no member holds rather than its rank's, which a survivor may hold.
   */
  private readonly metricsSlots = new Map<string, number>();
  private survivors: SurvivorReport[] = [];
  readonly failures: WorkerFailure[] = [];
  readonly worldSizes: WorldSizeChange[] = [];
  readonly generations: GenerationRecord[] = [];
  stepsRedone = 0;
  /** The most steps any member reported committed. */
  private committed = 0;
  private startStep = 0;
  private checkpointStep: number | null;
  private deadline: number | null = null;
  private recoveryFrom: number | null = null;
  /** Rank 0's training totals once it finished (JSON), for whoever evaluates. */
  private totals = '';
  /** The worker writing the results once training is done. */
  evaluator: WorkerRecord | null = null;
  imagesReported = 0;
  startedAt: number;

  constructor(
    job: Job,
    ctx: JobContext,
    parts: { outputs: JobOutputs; metrics: CoordinatorMetrics<JobState>; checkpointStep: number | null },
  ) {
    this.job = job;
    this.ctx = ctx;
    this.config = job.config;
    this.outputs = parts.outputs;
    this.metrics = parts.metrics;
    this.checkpointStep = parts.checkpointStep;
    this.committed = parts.checkpointStep ?? 0;
    this.startedAt = ctx.now();
  }

  /** The current generation's members, by rank. */
  get memberList(): readonly WorkerRecord[] {
    return this.members;
  }

  /** What the control store keeps of this membership. */
  snapshot(): MembershipSnapshot {
    return {
      phase: this.phase,
      members: this.members.map((w) => w.id),
      evaluator: this.evaluator?.id ?? null,
      ends: Object.fromEntries(this.ends),
      ready: [...this.ready],
      survivors: this.survivors,
      failures: this.failures,
      worldSizes: this.worldSizes,
      generations: this.generations,
      stepsRedone: this.stepsRedone,
      committed: this.committed,
      startStep: this.startStep,
      checkpointStep: this.checkpointStep,
      deadline: this.deadline,
      recoveryFrom: this.recoveryFrom,
      totals: this.totals,
      imagesReported: this.imagesReported,
      startedAt: this.startedAt,
    };
  }

  /**
   * Takes up a membership a stopped coordinator left (`snapshot`), with the workers it names
   * (`workers`: records restored from the store, whose Join streams are still to come back).
   */
  restore(snapshot: MembershipSnapshot, workers: ReadonlyMap<string, WorkerRecord>): void {
    const worker = (id: string): WorkerRecord => {
      const w = workers.get(id);
      if (!w) throw new ClusterError('STATE_INVALID', `job ${this.job.id}: its record names no worker ${id}`);
      return w;
    };
    this.phase = snapshot.phase;
    this.members = snapshot.members.map(worker);
    this.evaluator = snapshot.evaluator === null ? null : worker(snapshot.evaluator);
    this.ends.clear();
    for (const [id, end] of Object.entries(snapshot.ends)) this.ends.set(id, end);
    this.ready.clear();
    for (const id of snapshot.ready) this.ready.add(id);
    this.survivors = [...snapshot.survivors];
    this.failures.push(...snapshot.failures);
    this.worldSizes.push(...snapshot.worldSizes);
    this.generations.push(...snapshot.generations.map((g) => ({ ...g })));
    this.stepsRedone = snapshot.stepsRedone;
    this.committed = snapshot.committed;
    this.startStep = snapshot.startStep;
    this.checkpointStep = snapshot.checkpointStep;
    this.deadline = snapshot.deadline;
    this.recoveryFrom = snapshot.recoveryFrom;
    this.totals = snapshot.totals;
    this.imagesReported = snapshot.imagesReported;
    this.startedAt = snapshot.startedAt;
    this.metrics.setGeneration(this.job.generation);
    this.metrics.setLiveWorkers(this.members.length);
  }

  /**
   * A member came back under another generation than the one recorded (the coordinator stopped
   * between forming a generation and storing it): the generation it is in ends, and the next one
   * is formed from what every member reports, as after any loss.
   */
  resync(w: WorkerRecord, generation: number): void {
    if (generation > this.job.generation) this.job.generation = generation;
    w.generation = this.job.generation;
    this.endGeneration(`${describeWorker(w)} came back in generation ${generation}`);
  }

  /** The first generation: the idle workers the rendezvous gathered (at least --min-workers). */
  begin(): void {
    this.plan();
  }

  /** True when `w` belongs to the current generation `generation` of this job. */
  isMember(w: WorkerRecord, generation: number): boolean {
    return w.jobId === this.job.id && w.generation === generation && this.members.includes(w);
  }

  /** The current generation's members in rank order (none once the job has ended). */
  membersView(): readonly WorkerRecord[] {
    return this.members;
  }

  /** Logs `line` about this job, as "job ID: line", with the job, generation and committed step. */
  private say(line: string): void {
    this.ctx.log(`job ${this.job.id}: ${line}`, {
      job: this.job.id,
      generation: this.job.generation,
      step: this.committed,
    });
  }

  /** Throws FENCED unless `w` is a member of the current generation `generation`. */
  checkMember(w: WorkerRecord, generation: number): void {
    if (!this.isMember(w, generation)) {
      this.metrics.recordFenced();
      throw new ClusterError(
        'FENCED',
        `${describeWorker(w)} is not a member of job ${this.job.id} generation ${generation} (now ${this.job.generation})`,
      );
    }
  }

  /** A member's progress: the step it committed. */
  progress(w: WorkerRecord, step: number): void {
    w.step = Math.max(w.step, step);
    this.committed = Math.max(this.committed, step);
    if (this.phase === 'forming') {
      this.ready.add(w.id);
      if (this.members.every((m) => this.ready.has(m.id))) this.running();
    }
    if (step > this.startStep) {
      const g = this.generations[this.generations.length - 1];
      if (g && g.first_step_at === null) g.first_step_at = this.ctx.now();
      if (this.recoveryFrom !== null) {
        this.metrics.recordRecovery((this.ctx.now() - this.recoveryFrom) / 1000);
        this.recoveryFrom = null;
      }
    }
  }

  /** Whether rank 0 of the current generation is `w` (the one that saves checkpoints and records). */
  isRankZero(w: WorkerRecord): boolean {
    return this.members[0] === w && this.phase !== 'waiting';
  }

  /** The last committed step the job's outputs hold the records of. */
  get recordedStep(): number {
    return this.outputs.recordedStep;
  }

  /** A checkpoint was written at `step`. */
  checkpointed(step: number): void {
    this.checkpointStep = step;
  }

  /**
   * A member is gone: its process exited, its connection was lost, it hung, or it left. The
   * generation ends without it; a loss that is not a leave counts against --max-failures.
   */
  lose(w: WorkerRecord, reason: FailureReason, detail: string): void {
    const inGeneration = this.members.includes(w);
    const evaluating = this.evaluator === w;
    if (!this.forget(w, reason, detail)) return;
    if (this.phase === 'finishing') {
      if (evaluating) this.assignEvaluation();
      return;
    }
    if (!inGeneration || this.phase === 'waiting') return;
    if (reason !== 'left') this.recoveryFrom ??= this.ctx.now();
    this.endGeneration(`${describeWorker(w)} ${detail} (${reason})`);
  }

  /** Records the loss of `w` and frees it; false when that ended the job (--max-failures). */
  private forget(w: WorkerRecord, reason: FailureReason, detail: string): boolean {
    const rank = w.rank;
    const what = `${describeWorker(w)} ${detail}`;
    if (w.jobId === this.job.id && reason === 'left') {
      w.send({ abort: { jobId: this.job.id, reason: `left job ${this.job.id}` } });
    }
    this.release(w);
    if (reason === 'hung') w.fenced = true;
    this.members = this.members.filter((m) => m !== w);
    this.survivors = this.survivors.filter((s) => s.workerId !== w.id);
    this.ends.delete(w.id);
    if (this.evaluator === w) this.evaluator = null;
    this.metrics.forgetWorker(rank);
    this.metrics.setLiveWorkers(this.members.length);
    this.metrics.recordWorkerFailure(reason as FailureReasonLabel);
    this.job.lastFailure = `${what} at step ${this.committed}`;
    this.failures.push({
      worker_id: w.id,
      rank,
      generation: this.job.generation,
      step: this.committed,
      reason,
    });
    const line = `${reason === 'left' ? 'released' : 'lost'} ${what} (${reason}) at step ${this.committed}`;
    this.say(`${line}`);
    this.ctx.lost(this.job, line);
    if (reason === 'left') return true;
    this.job.failures += 1;
    if (this.job.failures > this.config.maxFailures) {
      this.ctx.fail(
        this.job,
        `${this.job.failures} workers lost, more than --max-failures ${this.config.maxFailures}; the last: ${what}`,
      );
      return false;
    }
    return true;
  }

  /** A member said where its generation ended for it. */
  generationDone(w: WorkerRecord, end: GenerationEnd): void {
    if (this.phase === 'finishing') {
      // Training is over; only the evaluator still works for the job. If it gives up, another
      // worker (perhaps itself, once free) evaluates the final checkpoint.
      if (w === this.evaluator && end.reason !== 'finished') {
        this.say(`${describeWorker(w)} could not send the results: ${end.detail}`);
        this.release(w);
        this.members = [];
        this.assignEvaluation(w);
      }
      return;
    }
    this.ends.set(w.id, end);
    if (end.step >= 0) this.committed = Math.max(this.committed, end.step);
    if (end.totals !== '') this.totals = end.totals;
    if (end.reason === 'leaving') w.leaving = true;
    if (
      end.reason === 'broken' &&
      (this.phase === 'training' || this.phase === 'forming' || this.phase === 'draining')
    ) {
      this.recoveryFrom ??= this.ctx.now();
      this.endGeneration(`rank ${w.rank} reported: ${end.detail}`);
      return;
    }
    // A drain vote can beat the coordinator's word that the generation trains (a member leaving in
    // its first step): either way the others stop after the same step and will answer too.
    if (
      (end.reason === 'drained' || end.reason === 'leaving') &&
      (this.phase === 'training' || this.phase === 'forming')
    ) {
      this.phase = 'draining';
      this.deadline = this.ctx.now() + this.config.collectiveTimeout * 1000;
    }
    this.maybeComplete();
  }

  /** A member is leaving for good (SIGTERM): its generation drains, and it is released. */
  leaveRequested(w: WorkerRecord): void {
    w.leaving = true;
    if (this.phase === 'training') this.drain(`${describeWorker(w)} is leaving`);
    else if (this.phase === 'forming') this.endGeneration(`${describeWorker(w)} is leaving`);
    else if (this.phase === 'waiting' || (this.phase === 'finishing' && this.evaluator !== w)) {
      this.forget(w, 'left', 'left');
    }
  }

  /** The control loop's pass: deadlines, and admitting idle workers while below --workers. */
  tick(now: number): void {
    if (
      (this.phase === 'collecting' || this.phase === 'draining') &&
      this.deadline !== null &&
      now > this.deadline
    ) {
      const silent = this.members.filter((m) => !this.ends.has(m.id));
      for (const m of silent) {
        this.lose(
          m,
          'hung',
          `did not end generation ${this.job.generation} within ${this.config.collectiveTimeout} s`,
        );
        if (this.job.terminal) return;
      }
      this.maybeComplete();
    } else if (this.phase === 'waiting') {
      if (
        this.ctx.idle().length > 0 &&
        this.survivors.length + this.ctx.idle().length >= this.config.minWorkers
      ) {
        this.plan();
      } else if (this.deadline !== null && now > this.deadline) {
        const last = this.job.lastFailure ? `; the last loss: ${this.job.lastFailure}` : '';
        this.ctx.fail(
          this.job,
          `fewer than --min-workers ${this.config.minWorkers} workers for ${this.config.rendezvousTimeout} s ` +
            `(${this.survivors.length} left, ${this.ctx.idle().length} idle)${last}`,
        );
      }
    } else if (
      this.phase === 'training' &&
      this.members.length < this.config.workers &&
      this.ctx.spare().length > 0
    ) {
      this.drain(`${this.ctx.spare().length} idle worker(s) can join`);
    } else if (this.phase === 'finishing' && this.evaluator === null) {
      this.assignEvaluation();
    }
  }

  /** The job ended: every worker it holds goes back to the pool (told why unless it succeeded). */
  end(state: 'SUCCEEDED' | 'FAILED' | 'CANCELLED', reason: string): void {
    const held = new Set([...this.members, ...(this.evaluator ? [this.evaluator] : [])]);
    for (const w of held) {
      if (state !== 'SUCCEEDED')
        w.send({
          abort: { jobId: this.job.id, reason: `job ${this.job.id} ${state.toLowerCase()}: ${reason}` },
        });
      this.metrics.forgetWorker(w.rank);
      this.release(w);
    }
    const g = this.generations[this.generations.length - 1];
    if (g && g.ended_because === '') g.ended_because = state.toLowerCase();
    this.members = [];
    this.evaluator = null;
    this.outputs.close();
  }

  /** The membership history for summary.json. */
  facts(): Record<string, unknown> {
    return {
      generation: this.job.generation,
      world_sizes: this.worldSizes,
      failures: this.failures,
      steps_redone: this.stepsRedone,
      generations: this.generations,
    };
  }

  private running(): void {
    this.phase = 'training';
    this.deadline = null;
    this.ctx.transition(
      this.job,
      'RUNNING',
      `generation ${this.job.generation}: ${this.members.length} workers from step ${this.startStep}`,
    );
    this.say(`running (generation ${this.job.generation}, ${this.members.length} workers)`);
  }

  private drain(why: string): void {
    this.phase = 'draining';
    this.deadline = this.ctx.now() + this.config.collectiveTimeout * 1000;
    this.closeRecord(why);
    this.say(`draining generation ${this.job.generation}: ${why}`);
    for (const m of this.members) {
      m.send({ drain: { jobId: this.job.id, generation: this.job.generation, reason: why } });
    }
  }

  private endGeneration(why: string): void {
    if (this.phase === 'collecting') {
      // Already ending: every member was told; only the set that must answer shrank.
      this.maybeComplete();
      return;
    }
    this.phase = 'collecting';
    this.deadline = this.ctx.now() + this.config.collectiveTimeout * 1000;
    this.closeRecord(why);
    this.say(`ending generation ${this.job.generation}: ${why}`);
    for (const m of this.members) {
      if (!this.ends.has(m.id)) {
        m.send({ endGeneration: { jobId: this.job.id, generation: this.job.generation, reason: why } });
      }
    }
    this.maybeComplete();
  }

  private closeRecord(why: string): void {
    const g = this.generations[this.generations.length - 1];
    if (g && g.ended_because === '') g.ended_because = why;
  }

  /** Once every member answered: finished training, or plan the next generation. */
  private maybeComplete(): void {
    if (this.members.some((m) => !this.ends.has(m.id))) return;
    if (this.members.length > 0 && this.members.every((m) => this.ends.get(m.id)!.reason === 'finished')) {
      this.finishing();
      return;
    }
    if (this.phase !== 'collecting' && this.phase !== 'draining') return;
    for (const m of this.members.filter((x) => x.leaving)) this.forget(m, 'left', 'left');
    this.survivors = this.members.map((m) => ({
      workerId: m.id,
      step: this.ends.get(m.id)!.step,
      inProgress: this.ends.get(m.id)!.inProgress,
    }));
    this.plan();
  }

  private finishing(): void {
    this.phase = 'finishing';
    this.deadline = null;
    this.closeRecord('training finished');
    const rank0 = this.members[0]!;
    for (const m of this.members.slice(1)) this.release(m);
    this.members = [rank0];
    this.evaluator = rank0;
    this.say(`training finished; ${describeWorker(rank0)} evaluates`);
  }

  /** Rank 0 was lost after training: an idle worker (another than `failed`, if any) evaluates the final checkpoint. */
  private assignEvaluation(failed: WorkerRecord | null = null): void {
    this.evaluator = null;
    const idle = this.ctx.idle();
    const w = idle.find((x) => x !== failed) ?? idle[0];
    if (!w) return;
    w.jobId = this.job.id;
    w.generation = this.job.generation;
    w.rank = 0;
    this.evaluator = w;
    this.members = [w];
    this.say(`${describeWorker(w)} evaluates the final checkpoint`);
    w.send({
      evaluate: { jobId: this.job.id, configJson: JSON.stringify(this.config), totalsJson: this.totals },
    });
  }

  private plan(): void {
    const idle = this.ctx.idle();
    const plan = planGeneration({
      survivors: this.survivors,
      idle: idle.map((w) => w.id),
      maxWorkers: this.config.workers,
      minWorkers: this.config.minWorkers,
      checkpointStep: this.checkpointStep,
    });
    if ('short' in plan) {
      if (this.phase !== 'waiting' || this.deadline === null) {
        this.phase = 'waiting';
        this.deadline = this.ctx.now() + this.config.rendezvousTimeout * 1000;
        this.members = this.members.filter((m) => this.survivors.some((s) => s.workerId === m.id));
        this.say(
          `waiting up to ${this.config.rendezvousTimeout} s for ${plan.short} more worker(s) (--min-workers ${this.config.minWorkers})`,
        );
      }
      return;
    }
    const byId = new Map([...this.members, ...idle].map((w) => [w.id, w]));
    const members = plan.members.map((id) => byId.get(id)!);
    if (plan.start !== 'peers' && this.committed > plan.startStep) {
      // No member holds the state: the steps since the checkpoint (or all) are trained again.
      this.stepsRedone += this.committed - plan.startStep;
      this.outputs.truncateTo(plan.startStep);
      this.say(
        `no worker holds the state of step ${this.committed}; ` +
          `${plan.start === 'checkpoint' ? `back to the checkpoint of step ${plan.startStep}` : 'starting over'}`,
      );
    }
    this.stepsRedone += plan.stepsRedone;
    // The workers lost in the generation that ended were lost once it had committed this much.
    for (const f of this.failures) {
      if (f.generation === this.job.generation) (f as { step: number }).step = plan.startStep;
    }
    this.committed = Math.max(plan.startStep, plan.start === 'peers' ? this.committed : plan.startStep);
    this.startStep = plan.startStep;
    this.assign(members, plan.start, plan.sourceRank);
  }

  private assign(members: WorkerRecord[], start: 'fresh' | 'checkpoint' | 'peers', sourceRank: number): void {
    const job = this.job;
    job.generation += 1;
    job.worldSize = members.length;
    this.members = members;
    this.survivors = [];
    this.ends.clear();
    this.ready.clear();
    this.phase = 'forming';
    this.deadline = null;
    const reason = `generation ${job.generation}: ${members.map((w) => w.id).join(', ')} from step ${this.startStep} (${start}${sourceRank >= 0 ? `, state from rank ${sourceRank}` : ''})`;
    if (job.state !== 'RENDEZVOUS') this.ctx.transition(job, 'RENDEZVOUS', reason);
    this.metrics.setGeneration(job.generation);
    this.metrics.setLiveWorkers(members.length);
    const last = this.worldSizes[this.worldSizes.length - 1];
    if (!last || last.workers !== members.length) {
      this.worldSizes.push({ from_step: this.startStep, workers: members.length });
    }
    this.generations.push({
      generation: job.generation,
      from_step: this.startStep,
      workers: members.length,
      start,
      formed_at: this.ctx.now(),
      first_step_at: null,
      ended_because: '',
    });
    const peers = members.map((w) => w.collectiveAddress);
    members.forEach((w, rank) => {
      w.jobId = job.id;
      w.generation = job.generation;
      w.rank = rank;
      w.step = this.startStep;
      w.lastHeartbeat = Math.max(w.lastHeartbeat, this.ctx.now());
    });
    this.say(`rendezvous, ${reason}: ${members.map(describeWorker).join('; ')}`);
    const held = new Set(members.flatMap((w) => this.metricsSlots.get(w.id) ?? []));
    for (const w of members) {
      if (this.metricsSlots.has(w.id)) continue;
      let slot = 0;
      while (held.has(slot)) slot++;
      held.add(slot);
      this.metricsSlots.set(w.id, slot);
    }
    const c = this.config;
    const linkSecret = randomBytes(16).toString('hex');
    members.forEach((w, rank) =>
      w.send({
        assignment: {
          jobId: job.id,
          generation: job.generation,
          rank,
          worldSize: members.length,
          peers,
          configJson: JSON.stringify(c),
          resume: start === 'checkpoint',
          heartbeatIntervalMs: Math.max(
            100,
            Math.floor((c.heartbeatTimeout * 1000) / HEARTBEATS_PER_TIMEOUT),
          ),
          collectiveTimeoutMs: Math.round(c.collectiveTimeout * 1000),
          digestEvery: c.digestEvery,
          metricsPort: c.metricsPort > 0 ? c.metricsPort + 1 + this.metricsSlots.get(w.id)! : 0,
          start,
          startStep: this.startStep,
          sourceRank,
          recordedStep: this.outputs.recordedStep,
          linkSecret,
        },
      }),
    );
  }

  /** Frees `w` from this job: idle again (unless it is leaving). */
  private release(w: WorkerRecord): void {
    if (w.jobId !== this.job.id) return;
    w.jobId = null;
    w.generation = 0;
    w.rank = -1;
  }
}
