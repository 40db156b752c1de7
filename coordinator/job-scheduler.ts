/**
 * Which queued jobs start, and when: gang scheduling with FIFO order and backfill. A job starts
 * once enough idle workers exist for its --min-workers (waiting up to its --rendezvous-timeout for
 * --workers), on workers no other job holds, so several jobs run side by side. A job that cannot
 * start yet does not hold up smaller ones behind it (backfill), until it has waited
 * {@link RESERVE_AFTER_MS} at the head of the queue: then nothing behind it starts until it has,
 * so a large job is not starved by a stream of small ones. A job larger than the whole pool never
 * reserves: it waits without blocking anyone.
 */

/** How long the oldest waiting job lets later jobs go first. */
export const RESERVE_AFTER_MS = 5 * 60_000;

/** A queued job as the scheduler sees it. */
export interface QueuedJob {
  readonly id: string;
  readonly minWorkers: number;
  readonly workers: number;
  readonly rendezvousTimeoutMs: number;
  /** When it was submitted. */
  readonly queuedAt: number;
}

/** A job to start now, with how many of the idle workers. */
export interface JobStart {
  readonly id: string;
  readonly workers: number;
}

export class JobScheduler {
  /** When each job first had its --min-workers idle. */
  private readonly gathering = new Map<string, number>();
  private readonly reserveAfterMs: number;

  constructor(reserveAfterMs = RESERVE_AFTER_MS) {
    this.reserveAfterMs = reserveAfterMs;
  }

  /**
   * The jobs of `queue` (oldest first) that start now, given `idle` workers free and `pool`
   * workers in all. `waiting` is true when some queued job still wants idle workers (running jobs
   * then do not grow into them).
   */
  decide(
    queue: readonly QueuedJob[],
    idle: number,
    pool: number,
    now: number,
  ): { start: JobStart[]; waiting: boolean } {
    const start: JobStart[] = [];
    let free = idle;
    let waiting = false;
    for (const job of queue) {
      if (free >= job.minWorkers) {
        const since = this.gathering.get(job.id) ?? now;
        this.gathering.set(job.id, since);
        if (free >= job.workers || now - since >= job.rendezvousTimeoutMs) {
          const n = Math.min(free, job.workers);
          start.push({ id: job.id, workers: n });
          free -= n;
          this.gathering.delete(job.id);
          continue;
        }
        // Gathering up to --workers: what it has is its own meanwhile.
        waiting = true;
        free -= Math.min(free, job.workers);
        continue;
      }
      this.gathering.delete(job.id);
      // A job the pool can never hold wants nothing from it yet.
      if (job.minWorkers > pool) continue;
      waiting = true;
      if (now - job.queuedAt >= this.reserveAfterMs) break;
    }
    const queued = new Set(queue.map((j) => j.id));
    for (const id of [...this.gathering.keys()]) if (!queued.has(id)) this.gathering.delete(id);
    return { start, waiting };
  }
}
