/**
 * Writes the coordinator's job records to its control store behind its decisions, which stay
 * synchronous: each job's newest record replaces any not yet written, one write per job is in
 * flight at a time, and each names the revision the last one left. A write that finds another
 * revision means another coordinator has taken over: the journal stops writing and says so once
 * (`onDeposed`), so a deposed coordinator changes nothing.
 */
import { ClusterError } from '../core/errors.js';
import type { ControlStore } from '../core/control-plane/control-store.js';

/** Pause before a failed write (the store is away) is tried again. */
const RETRY_MS = 500;

export class JobJournal {
  private readonly store: ControlStore;
  private readonly revisions = new Map<string, number>();
  private readonly pending = new Map<string, string>();
  private readonly written = new Map<string, string>();
  private readonly inFlight = new Map<string, Promise<void>>();
  private readonly log: (line: string) => void;
  private readonly onDeposed: (err: ClusterError) => void;
  private deposedBy: ClusterError | null = null;
  private warned = false;

  constructor(
    store: ControlStore,
    opts: { log: (line: string) => void; onDeposed: (err: ClusterError) => void },
  ) {
    this.store = store;
    this.log = opts.log;
    this.onDeposed = opts.onDeposed;
  }

  /** The revision a record was loaded at, so that the next write names it. */
  loaded(id: string, value: string, revision: number): void {
    this.revisions.set(id, revision);
    this.written.set(id, value);
  }

  /**
   * Writes job `id`'s record again as it was loaded, over the revision it was loaded at: a
   * coordinator taking over does so for every open job first, so that the one it replaced (should
   * it wake up) finds another revision on its next write and stops.
   */
  async claim(id: string): Promise<void> {
    const value = this.written.get(id);
    if (value === undefined) return;
    this.written.delete(id);
    this.record(id, value);
    await this.flush(id);
  }

  /** Queues `value` as job `id`'s record; nothing happens when it is what was last written. */
  record(id: string, value: string): void {
    if (this.deposedBy || this.written.get(id) === value) return;
    this.pending.set(id, value);
    if (!this.inFlight.has(id)) this.inFlight.set(id, this.write(id));
  }

  /** Resolves once job `id`'s records queued so far are written; rejects when it cannot be. */
  async flush(id: string): Promise<void> {
    while (this.inFlight.has(id)) await this.inFlight.get(id);
    if (this.deposedBy) throw this.deposedBy;
  }

  /** Resolves once everything queued is written (or the journal was deposed). */
  async flushAll(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.all(this.inFlight.values());
  }

  get deposed(): boolean {
    return this.deposedBy !== null;
  }

  private async write(id: string): Promise<void> {
    try {
      for (;;) {
        const value = this.pending.get(id);
        if (value === undefined || this.deposedBy) return;
        this.pending.delete(id);
        for (;;) {
          try {
            const revision = await this.store.putJob(id, value, this.revisions.get(id) ?? 0);
            this.revisions.set(id, revision);
            this.written.set(id, value);
            if (this.warned) this.log(`coordinator: ${this.store.where} takes writes again`);
            this.warned = false;
            break;
          } catch (err) {
            if (err instanceof ClusterError && err.code === 'STALE_REVISION') {
              this.deposedBy = err;
              this.pending.clear();
              this.onDeposed(err);
              return;
            }
            if (!this.warned) this.log(`coordinator: ${(err as Error).message}; trying again`);
            this.warned = true;
            // A newer record supersedes this one while we wait.
            await new Promise((r) => setTimeout(r, RETRY_MS));
            if (this.pending.has(id)) break;
          }
        }
      }
    } finally {
      this.inFlight.delete(id);
    }
  }
}
