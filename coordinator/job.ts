/**
 * A job and its states, kept in one place so that every change of state goes through
 * {@link Job.transition}, is checked against the allowed transitions and is recorded.
 *
 *   PENDING -> RENDEZVOUS -> RUNNING -> SUCCEEDED
 *                   ^           |
 *                   +-----------+  (a generation ended: a worker was lost, joined or left)
 *   any non-terminal state -> FAILED | CANCELLED
 *
 * RENDEZVOUS fixes one generation: members, ranks, peer addresses, where its state comes from.
 * RUNNING starts once every member of the generation has joined its group and holds the state.
 */
import type { JobConfig } from '../core/config/job-config.js';
import { ClusterError } from '../core/errors.js';

export const JOB_STATES = ['PENDING', 'RENDEZVOUS', 'RUNNING', 'SUCCEEDED', 'FAILED', 'CANCELLED'] as const;
export type JobState = (typeof JOB_STATES)[number];

const NEXT: Readonly<Record<JobState, readonly JobState[]>> = {
  PENDING: ['RENDEZVOUS', 'FAILED', 'CANCELLED'],
  RENDEZVOUS: ['RUNNING', 'FAILED', 'CANCELLED'],
  RUNNING: ['RENDEZVOUS', 'SUCCEEDED', 'FAILED', 'CANCELLED'],
  SUCCEEDED: [],
  FAILED: [],
  CANCELLED: [],
};

/** True for SUCCEEDED, FAILED and CANCELLED. */
export function isTerminal(state: JobState): boolean {
  return NEXT[state].length === 0;
}

/** One recorded change of state. */
export interface JobEvent {
  readonly state: JobState;
  /** Unix milliseconds. */
  readonly at: number;
  readonly reason: string;
}

/** A job as the control store keeps it (its membership is stored beside it). */
export interface JobSnapshot {
  readonly id: string;
  readonly config: JobConfig;
  readonly submittedAt: number;
  /** Queue order: jobs start oldest first. */
  readonly sequence: number;
  readonly history: readonly JobEvent[];
  readonly generation: number;
  readonly worldSize: number;
  readonly failures: number;
  readonly lastFailure: string;
  readonly step: number;
  readonly totalSteps: number;
  /** null for NaN (JSON has none). */
  readonly loss: number | null;
  readonly message: string;
  readonly endedAt: number | null;
}

/** A training job as the coordinator tracks it. */
export class Job {
  readonly id: string;
  readonly config: JobConfig;
  readonly submittedAt: number;
  private current: JobState = 'PENDING';
  private readonly log: JobEvent[];
  /** Rendezvous generation; 0 before the first one. */
  generation = 0;
  /** Members of the current generation; 0 before the first one. */
  worldSize = 0;
  /** Workers lost so far (a graceful leave is not one), and the last loss or leave in words. */
  failures = 0;
  lastFailure = '';
  /** Last step every rank reported, and the run's total. */
  step = 0;
  totalSteps = 0;
  /** Job-wide mean training loss last reported. */
  loss = NaN;
  /** Why the job failed or was cancelled; '' otherwise. */
  message = '';
  endedAt: number | null = null;

  /** Queue order: jobs start oldest first. */
  readonly sequence: number;

  constructor(id: string, config: JobConfig, now: number, sequence = 0) {
    this.id = id;
    this.config = config;
    this.submittedAt = now;
    this.sequence = sequence;
    this.log = [{ state: 'PENDING', at: now, reason: 'submitted' }];
  }

  /** The job a stopped coordinator stored, in the state it had. */
  static restore(s: JobSnapshot): Job {
    const job = new Job(s.id, s.config, s.submittedAt, s.sequence);
    job.log.splice(0, job.log.length, ...s.history);
    job.current = s.history[s.history.length - 1]?.state ?? 'PENDING';
    job.generation = s.generation;
    job.worldSize = s.worldSize;
    job.failures = s.failures;
    job.lastFailure = s.lastFailure;
    job.step = s.step;
    job.totalSteps = s.totalSteps;
    job.loss = s.loss ?? NaN;
    job.message = s.message;
    job.endedAt = s.endedAt;
    return job;
  }

  /** What the control store keeps of it. */
  snapshot(): JobSnapshot {
    return {
      id: this.id,
      config: this.config,
      submittedAt: this.submittedAt,
      sequence: this.sequence,
      history: this.log,
      generation: this.generation,
      worldSize: this.worldSize,
      failures: this.failures,
      lastFailure: this.lastFailure,
      step: this.step,
      totalSteps: this.totalSteps,
      loss: Number.isFinite(this.loss) ? this.loss : null,
      message: this.message,
      endedAt: this.endedAt,
    };
  }

  get state(): JobState {
    return this.current;
  }

  /** Every state the job has been in, oldest first. */
  get history(): readonly JobEvent[] {
    return this.log;
  }

  get terminal(): boolean {
    return isTerminal(this.current);
  }

  /**
   * Moves to `to`, recording `reason`; throws a ClusterError for a transition the state machine
   * does not allow (a bug in the caller, never a user error).
   */
  transition(to: JobState, reason: string, now: number): void {
    if (!NEXT[this.current].includes(to)) {
      throw new ClusterError(
        'JOB_FAILED',
        `job ${this.id}: no transition from ${this.current} to ${to} (${reason})`,
      );
    }
    this.current = to;
    this.log.push({ state: to, at: now, reason });
    if (to === 'FAILED' || to === 'CANCELLED') this.message = reason;
    if (isTerminal(to)) this.endedAt = now;
  }
}
