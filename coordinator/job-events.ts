/**
 * Job events for whoever watches the cluster (dashboards, schedulers, chat bots): every change of
 * a job's state, rank 0's progress reports, and every worker a job lost or released. The coordinator hands them to a sink; delivery is
 * best effort and never holds up or fails a job.
 */
import type { JobState } from './job.js';

/** One event, as published. */
export interface JobEvent {
  readonly kind: 'state' | 'progress' | 'failure';
  readonly job: string;
  readonly model: string;
  readonly state: JobState;
  readonly generation: number;
  readonly step: number;
  readonly totalSteps: number;
  readonly loss: number | null;
  /** Why the state changed (state events), which worker left and why (failure), '' for progress. */
  readonly reason: string;
  /** Unix milliseconds. */
  readonly at: number;
}

/** Where the coordinator sends job events. */
export interface JobEventSink {
  publish(event: JobEvent): void;
  /** Flushes what was published and disconnects. */
  close(): Promise<void>;
}
