/**
 * A {@link ControlStore} in this process's memory: what a coordinator without `--nats` uses, and
 * what tests share between two coordinators to act out a restart. Same rules as JetStream's:
 * revision-checked writes, a queue whose unacknowledged submissions are handed out again.
 */
import { ClusterError } from '../errors.js';
import type { ControlStore, QueuedSubmission, Revisioned } from './control-store.js';

/** The lease's key, beside the job records' `jobs.<id>`. */
const LEASE = 'leader';

/** How soon a submission that was taken but not acknowledged is handed out again. */
const REDELIVER_MS = 1000;

interface Message {
  readonly id: string;
  readonly body: string;
  readonly sequence: number;
}

export class MemoryControlStore implements ControlStore {
  readonly where = 'in memory';
  readonly durable = false;
  /** Job records (`jobs.<id>`) and the lease, as in the KV bucket. */
  private readonly jobs = new Map<string, { value: string; revision: number }>();
  private readonly queue: Message[] = [];
  private readonly seen = new Set<string>();
  private sequence = 0;
  private revision = 0;
  private consumer: ((s: QueuedSubmission) => Promise<void>) | null = null;
  private busy = false;
  /** Dead-lettered submissions and why, oldest first. */
  readonly deadLetters: { body: string; reason: string }[] = [];
  /** Every event published, oldest first. */
  readonly events: { jobId: string; kind: string; body: string }[] = [];

  loadJobs(): Promise<Revisioned[]> {
    return Promise.resolve(
      [...this.jobs]
        .filter(([key]) => key.startsWith('jobs.'))
        .map(([key, v]) => ({ key: key.slice('jobs.'.length), ...v })),
    );
  }

  putJob(id: string, value: string, revision: number): Promise<number> {
    return this.put(`jobs.${id}`, value, revision);
  }

  readLease(): Promise<Revisioned | null> {
    const e = this.jobs.get(LEASE);
    return Promise.resolve(e ? { key: LEASE, ...e } : null);
  }

  putLease(value: string, revision: number): Promise<number> {
    return this.put(LEASE, value, revision);
  }

  private put(key: string, value: string, revision: number): Promise<number> {
    const current = this.jobs.get(key)?.revision ?? 0;
    if (current !== revision) {
      return Promise.reject(
        new ClusterError(
          'STALE_REVISION',
          `${key} is at revision ${current}, not ${revision}: another coordinator wrote it`,
        ),
      );
    }
    this.revision += 1;
    this.jobs.set(key, { value, revision: this.revision });
    return Promise.resolve(this.revision);
  }

  enqueue(id: string, body: string): Promise<{ duplicate: boolean }> {
    if (this.seen.has(id)) return Promise.resolve({ duplicate: true });
    this.seen.add(id);
    this.sequence += 1;
    this.queue.push({ id, body, sequence: this.sequence });
    this.pump();
    return Promise.resolve({ duplicate: false });
  }

  consume(take: (s: QueuedSubmission) => Promise<void>): void {
    this.consumer = take;
    this.pump();
  }

  publishEvent(jobId: string, kind: string, body: string): void {
    this.events.push({ jobId, kind, body });
  }

  /** A new consumer (a restarted coordinator) is handed what the last one did not acknowledge. */
  close(): Promise<void> {
    this.consumer = null;
    return Promise.resolve();
  }

  private pump(): void {
    const take = this.consumer;
    const m = this.queue[0];
    if (!take || !m || this.busy) return;
    this.busy = true;
    let settled = false;
    const settle = (): void => {
      if (settled) return;
      settled = true;
      this.queue.splice(this.queue.indexOf(m), 1);
    };
    const s: QueuedSubmission = {
      body: m.body,
      sequence: m.sequence,
      ack: () => {
        settle();
        return Promise.resolve();
      },
      reject: (reason) => {
        this.deadLetters.push({ body: m.body, reason });
        settle();
        return Promise.resolve();
      },
    };
    take(s)
      .catch(() => undefined)
      .finally(() => {
        this.busy = false;
        // Not acknowledged (it could not be recorded): handed out again a little later, as
        // JetStream redelivers after its ack wait.
        if (settled) this.pump();
        else setTimeout(() => this.pump(), REDELIVER_MS).unref();
      });
  }
}
