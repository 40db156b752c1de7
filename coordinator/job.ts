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

  constructor(id: string, config: JobConfig, now: number) {
    this.id = id;
    this.config = config;
    this.submittedAt = now;
    this.log = [{ state: 'PENDING', at: now, reason: 'submitted' }];
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
