/**
 * The workers the coordinator knows, its pool: who joined (in join order, which fixes rank order at
 * a rendezvous), where their collective endpoints are, when each last sent a heartbeat, and which
 * job, generation and rank each holds. A worker stays in the pool between jobs.
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
  /**
   * SHA-256 (hex) of the key the process showed when it first joined ('' when it showed none):
   * every later call as this worker must show the same key.
   */
  keyHash: string;
  /**
   * Sends an event down the worker's Join stream. A worker restored from the control store has no
   * stream until it joins again: what is sent meanwhile is kept and sent then.
   */
  send: (event: WorkerEvent) => void;
  lastHeartbeat: number;
  /** The job it serves (a member, a survivor waiting for the next generation, or its evaluator). */
  jobId: string | null;
  /** The generation of `jobId` it belongs to; 0 while idle. */
  generation: number;
  /** Rank in that generation; -1 while idle or between generations. */
  rank: number;
  step: number;
  /** It said it is going away (SIGTERM): it is never given work again. */
  leaving: boolean;
  /** It was declared hung: no work until a heartbeat shows it alive again. */
  fenced: boolean;
}

/** A worker record restored from the store: what is sent to it waits for its next Join. */
export function detachedSender(): { send: (event: WorkerEvent) => void; held: WorkerEvent[] } {
  const held: WorkerEvent[] = [];
  return { send: (event) => held.push(event), held };
}

/** How a worker is named in messages: id, rank and host:pid. */
export function describeWorker(w: WorkerRecord): string {
  const rank = w.rank >= 0 ? `rank ${w.rank}, ` : '';
  return `worker ${w.id} (${rank}${w.hostname} pid ${w.pid}, ${w.collectiveAddress})`;
}

export class WorkerRegistry {
  private readonly workers = new Map<string, WorkerRecord>();

  /** Registers a worker; a second Join with the same id replaces nothing and returns false. */
  add(
    record: Omit<
      WorkerRecord,
      'lastHeartbeat' | 'jobId' | 'generation' | 'rank' | 'step' | 'leaving' | 'fenced'
    >,
  ): boolean {
    if (this.workers.has(record.id)) return false;
    this.workers.set(record.id, {
      ...record,
      lastHeartbeat: record.joinedAt,
      jobId: null,
      generation: 0,
      rank: -1,
      step: 0,
      leaving: false,
      fenced: false,
    });
    return true;
  }

  /** Puts back a record restored from the control store (its Join stream is still to come). */
  restore(record: WorkerRecord): void {
    this.workers.set(record.id, record);
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

  /** Workers without a job that may take one, in join order. */
  idle(): WorkerRecord[] {
    return this.all().filter((w) => w.jobId === null && !w.leaving && !w.fenced);
  }

  /** The worker whose process is `pid` on `hostname`, if one joined. */
  byProcess(hostname: string, pid: number): WorkerRecord | undefined {
    return this.all().find((w) => w.pid === pid && w.hostname === hostname);
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
}
