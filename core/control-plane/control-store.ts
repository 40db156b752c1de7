/**
 * Where a coordinator keeps what must outlive it: the job records (revision-checked, so that a
 * coordinator that lost its lease cannot overwrite its successor's), the queue of submitted jobs
 * (each taken once, acknowledged when recorded, delivered again to whoever consumes next if the
 * coordinator dies first), and the job events watchers read. JetStream keeps them across
 * coordinator restarts (jetstream-control-store.ts); the in-memory store keeps them as long as the
 * process lives (memory-control-store.ts).
 */
/** A stored value with the revision a conditional write must name. */
export interface Revisioned {
  readonly key: string;
  readonly value: string;
  readonly revision: number;
}

/** A submission taken off the queue; `ack` once it is recorded, `reject` to dead-letter it. */
export interface QueuedSubmission {
  /** The message body: a submission's JSON, as {@link ControlStore.enqueue} was given it. */
  readonly body: string;
  /** The queue's sequence number: the submission order. */
  readonly sequence: number;
  ack(): Promise<void>;
  /** Moves it to the dead-letter subject with `reason`, then acknowledges it. */
  reject(reason: string): Promise<void>;
}

/** The coordinator's durable state. */
export interface ControlStore {
  /** Where it lives, for messages ("in memory", "JetStream at nats://..."). */
  readonly where: string;
  /** Whether what it holds survives the coordinator process. */
  readonly durable: boolean;
  /** Every job record. */
  loadJobs(): Promise<Revisioned[]>;
  /**
   * Writes job record `id`: creates it when `revision` is 0, else replaces exactly that revision.
   * Resolves with the new revision; rejects with a ClusterError STALE_REVISION when the
   * record is not at `revision` (another coordinator wrote it, or it exists already).
   */
  putJob(id: string, value: string, revision: number): Promise<number>;
  /** The leader lease (leader-lease.ts), null when nobody ever held it. */
  readLease(): Promise<Revisioned | null>;
  /** Writes the lease over `revision` (0: only if nobody holds it); STALE_REVISION otherwise. */
  putLease(value: string, revision: number): Promise<number>;
  /** Queues a submission; `duplicate` when one with the same id was queued within the window. */
  enqueue(id: string, body: string): Promise<{ duplicate: boolean }>;
  /** Hands queued submissions, in order, to `take` until {@link close}; at most one at a time. */
  consume(take: (s: QueuedSubmission) => Promise<void>): void;
  /**
   * Publishes a job event (JSON) of `kind` ('state', 'progress') for job `jobId`. Best effort: a
   * lost event never holds up or fails a job.
   */
  publishEvent(jobId: string, kind: string, body: string): void;
  close(): Promise<void>;
}
