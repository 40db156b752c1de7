/**
 * The workers the coordinator knows: who joined (in join order, which fixes rank order at a
 * rendezvous), where their collective endpoints are, when each last sent a heartbeat, and which
 * job and rank each holds.
 */
import type { WorkerEvent } from '../proto/coordinator-service.js';

/** A worker process as registered by its Join call. */
export interface WorkerRecord {
  readonly id: string;
  readonly hostname: string;
  readonly pid: number;
  readonly collectiveAddress: string;
  readonly metricsAddress: string;
  readonly joinedAt: number;
  /** Sends an event down the worker's Join stream. */
  readonly send: (event: WorkerEvent) => void;
  lastHeartbeat: number;
  jobId: string | null;
  /** Rank in the job's current generation; -1 while idle. */
  rank: number;
  step: number;
  /** The worker reported its last step: leaving now is not a failure. */
  finished: boolean;
}

/** How a worker is named in messages: id, rank and host:pid. */
export function describeWorker(w: WorkerRecord): string {
  const rank = w.rank >= 0 ? `rank ${w.rank}, ` : '';
  return `worker ${w.id} (${rank}${w.hostname} pid ${w.pid}, ${w.collectiveAddress})`;
}

export class WorkerRegistry {
  private readonly workers = new Map<string, WorkerRecord>();

  /** Registers a worker; a second Join with the same id replaces nothing and returns false. */
  add(record: Omit<WorkerRecord, 'lastHeartbeat' | 'jobId' | 'rank' | 'step' | 'finished'>): boolean {
    if (this.workers.has(record.id)) return false;
    this.workers.set(record.id, {
      ...record,
      lastHeartbeat: record.joinedAt,
      jobId: null,
      rank: -1,
      step: 0,
      finished: false,
    });
    return true;
  }

  get(id: string): WorkerRecord | undefined {
    return this.workers.get(id);
  }

  remove(id: string): WorkerRecord | undefined {
    const w = this.workers.get(id);
    this.workers.delete(id);
    return w;
  }

  /** Every worker, in join order. */
  all(): WorkerRecord[] {
    return [...this.workers.values()];
  }

  /** Workers without a job, in join order. */
  idle(): WorkerRecord[] {
    return this.all().filter((w) => w.jobId === null);
  }

  /** The workers of `jobId`, by rank. */
  ofJob(jobId: string): WorkerRecord[] {
    return this.all()
      .filter((w) => w.jobId === jobId)
      .sort((a, b) => a.rank - b.rank);
  }

  /** Records a heartbeat; false when the worker is unknown. */
  heartbeat(id: string, now: number, step: number): boolean {
    const w = this.workers.get(id);
    if (!w) return false;
    w.lastHeartbeat = now;
    w.step = Math.max(w.step, step);
    return true;
  }

  /** Workers whose last heartbeat is older than `timeoutMs`. */
  stale(now: number, timeoutMs: number): WorkerRecord[] {
    return this.all().filter((w) => now - w.lastHeartbeat > timeoutMs);
  }
}
