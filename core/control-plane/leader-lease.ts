/**
 * One leader among the coordinators that share a control store: a lease in the store's `leader`
 * key, taken by create-if-absent and kept by revision-checked renewals every ttl/5. A standby
 * watches the key; when its revision has not changed for a whole ttl (measured on the standby's
 * own monotonic clock, so no two hosts' clocks are compared) the leader is gone, and the standby
 * writes itself over exactly the revision it saw: of several standbys one wins, and a leader that
 * renewed in the meantime keeps the lease. A leader that could not renew for a ttl must not act
 * until it renews again; one whose renewal finds another revision has lost the lead (per-key TTLs
 * would need nats-server 2.11).
 */
import { ClusterError } from '../errors.js';
import type { ControlStore } from './control-store.js';

/** Default lease time: a standby takes over within about this much after the leader stops. */
export const LEASE_TTL_MS = 5000;

/** What the lease says. */
export interface LeaseHolder {
  /** The coordinator's id (unique per process). */
  readonly holder: string;
  /** Where clients reach it. */
  readonly address: string;
  /** Leadership count: each takeover adds one. */
  readonly term: number;
}

/** The value of a lease its holder handed over. */
const RELEASED = '{"released":true}';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms).unref());

export class LeaderLease {
  private readonly store: ControlStore;
  private readonly me: Omit<LeaseHolder, 'term'>;
  private readonly ttlMs: number;
  private readonly log: (line: string) => void;
  private revision = 0;
  private term = 0;
  /**
   * When the write that last took or renewed the lease was sent (monotonic ms); null while not
   * held. Counted from the send, not the reply: a reply that arrives late (the process was stopped
   * with the write in flight) must not give a lease that standbys have long seen expire a fresh ttl.
   */
  private heldAt: number | null = null;
  private seen: LeaseHolder | null = null;
  private stopped = false;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    store: ControlStore,
    me: Omit<LeaseHolder, 'term'>,
    opts: { ttlMs?: number; log?: (line: string) => void } = {},
  ) {
    this.store = store;
    this.me = me;
    this.ttlMs = opts.ttlMs ?? LEASE_TTL_MS;
    this.log = opts.log ?? (() => undefined);
  }

  /**
   * Whether this coordinator holds the lease now: taken or renewed less than a ttl ago. A leader
   * that was stopped (SIGSTOP) for longer is no longer one the moment it runs again, before any
   * renewal has told it so: it must not act.
   */
  get valid(): boolean {
    return this.heldAt !== null && performance.now() - this.heldAt < this.ttlMs;
  }

  /** The leader last seen (this coordinator once it leads), null before any was seen. */
  get leader(): LeaseHolder | null {
    return this.seen;
  }

  /**
   * Resolves true once this coordinator holds the lease (until then it stands by), false when
   * {@link stop} came first.
   */
  async acquire(): Promise<boolean> {
    let lastRevision = -1;
    let changedAt = performance.now();
    let announced = '';
    while (!this.stopped) {
      try {
        const e = await this.store.readLease();
        if (e === null) {
          if (await this.take(0, 1)) return true;
        } else if (e.value === RELEASED) {
          if (await this.take(e.revision, (this.seen?.term ?? 0) + 1)) {
            this.log('coordinator: took the lead its last holder handed over');
            return true;
          }
        } else {
          const held = parseHolder(e.value);
          if (e.revision !== lastRevision) {
            lastRevision = e.revision;
            changedAt = performance.now();
            this.seen = held;
            if (held && announced !== held.holder) {
              announced = held.holder;
              this.log(
                `coordinator: standing by; the leader is ${held.holder} at ${held.address} (term ${held.term})`,
              );
            }
          } else if (performance.now() - changedAt > this.ttlMs) {
            const was = held ? `${held.holder} at ${held.address}` : 'an unreadable lease';
            if (await this.take(e.revision, (held?.term ?? 0) + 1)) {
              this.log(
                `coordinator: took the lead from ${was}, silent for ${(this.ttlMs / 1000).toFixed(1)} s`,
              );
              return true;
            }
          }
        }
      } catch (err) {
        if (!(err instanceof ClusterError)) throw err;
        // The store is away: nothing can be decided until it is back, and then the leader gets a
        // whole ttl to renew before it counts as gone.
        changedAt = performance.now();
      }
      await sleep(this.ttlMs / 10);
    }
    return false;
  }

  /**
   * Renews the lease every ttl/5 until {@link stop}; `onLost` is called once another coordinator
   * holds it. While the store is out of reach the lease lapses ({@link valid} turns false after a
   * ttl: this coordinator must not act), and a renewal that gets through over this coordinator's
   * own revision (nobody took over meanwhile) makes it valid again.
   */
  keep(onLost: (err: ClusterError) => void): void {
    const renew = async (): Promise<void> => {
      if (this.stopped) return;
      const sentAt = performance.now();
      try {
        this.revision = await this.store.putLease(this.value(), this.revision);
        this.heldAt = sentAt;
      } catch (err) {
        if (err instanceof ClusterError && err.code === 'STALE_REVISION') {
          this.heldAt = null;
          onLost(
            new ClusterError(
              'STALE_REVISION',
              `coordinator ${this.me.holder} lost the lead (term ${this.term}): ${err.message}`,
              {
                cause: err,
              },
            ),
          );
          return;
        }
      }
      this.timer = setTimeout(() => void renew(), this.ttlMs / 5);
    };
    this.timer = setTimeout(() => void renew(), this.ttlMs / 5);
  }

  /** Stops renewing (and standing by); with `release`, hands the lease over at once. */
  async stop(release: boolean): Promise<void> {
    this.stopped = true;
    this.heldAt = null;
    if (this.timer) clearTimeout(this.timer);
    if (release && this.revision > 0) {
      // A released lease is taken by a standby without waiting out a ttl.
      await this.store.putLease(RELEASED, this.revision).catch(() => undefined);
    }
  }

  private async take(revision: number, term: number): Promise<boolean> {
    this.term = term;
    const sentAt = performance.now();
    try {
      this.revision = await this.store.putLease(this.value(), revision);
      this.heldAt = sentAt;
      this.seen = { ...this.me, term };
      return true;
    } catch (err) {
      if (err instanceof ClusterError && err.code === 'STALE_REVISION') return false;
      throw err;
    }
  }

  private value(): string {
    return JSON.stringify({ ...this.me, term: this.term });
  }
}

/** The holder a lease names; null for a released or unreadable one. */
function parseHolder(value: string): LeaseHolder | null {
  try {
    const v = JSON.parse(value) as Partial<LeaseHolder>;
    if (typeof v.holder === 'string' && typeof v.address === 'string' && typeof v.term === 'number') {
      return { holder: v.holder, address: v.address, term: v.term };
    }
  } catch {
    // Unreadable: treated as held by nobody known; it expires like any other.
  }
  return null;
}
