/**
 * The records of committed steps that the coordinator does not hold yet: each metrics.jsonl record
 * and, with `--audit-samples`, each samples.jsonl line. Every member keeps them, not only rank 0
 * which sends them, so that when rank 0 is lost the next rank 0 sends what it had not; a joining
 * member receives the source's log with its state. The coordinator's `recorded_step` (in heartbeat
 * replies, report replies and assignments) tells each member what it may drop.
 *
 * Entries are keyed by the run's committed-step count after the step (the cursor): the samples
 * line of step t (0-based) and a record logged after it both belong to t + 1.
 */
import { ClusterError } from '../errors.js';
import type { MetricsRecord } from '../train/metrics-log.js';
import type { SamplesLine } from '../train/samples-log.js';

/** What one committed step left to record. */
export interface StepLogEntry {
  /** Committed steps once this one was: the cursor after it. */
  readonly step: number;
  readonly record?: MetricsRecord;
  readonly samples?: SamplesLine;
}

/** Most entries a log accepts from a peer or keeps at once (a coordinator out of reach for long). */
const MAX_ENTRIES = 1_000_000;

export class StepLog {
  private readonly entries = new Map<number, { record?: MetricsRecord; samples?: SamplesLine }>();
  private recordedThrough = -1;

  /** The last step the coordinator holds, as last heard; -1 for none. */
  get recorded(): number {
    return this.recordedThrough;
  }

  get size(): number {
    return this.entries.size;
  }

  /** Keeps `record` (a metrics.jsonl line logged once `record.step` steps were committed). */
  addRecord(record: MetricsRecord): void {
    this.put(record.step, { record });
  }

  /** Keeps the samples.jsonl line of 0-based step `line.step`. */
  addSamples(line: SamplesLine): void {
    this.put(line.step + 1, { samples: line });
  }

  /** Entries after what the coordinator holds, in step order. */
  pending(): StepLogEntry[] {
    return [...this.entries.entries()]
      .filter(([step]) => step > this.recordedThrough)
      .sort((a, b) => a[0] - b[0])
      .map(([step, e]) => ({ step, ...e }));
  }

  /** The coordinator holds everything through `step`: those entries are dropped. */
  confirm(step: number): void {
    if (step <= this.recordedThrough) return;
    this.recordedThrough = step;
    for (const s of [...this.entries.keys()]) if (s <= step) this.entries.delete(s);
  }

  /** Forgets every entry after `step` (the job fell back to a checkpoint at `step`). */
  truncate(step: number): void {
    for (const s of [...this.entries.keys()]) if (s > step) this.entries.delete(s);
  }

  /** The pending entries as JSON, for a state transfer. */
  toJson(): string {
    return JSON.stringify(this.pending());
  }

  /**
   * Takes the entries of a peer's log (its JSON from {@link toJson}); a peer's entry replaces this
   * log's for the same step, since the peer's is the committed history this member adopts.
   * Throws ClusterError STATE_INVALID naming `from` for anything that is not such a log.
   */
  merge(json: string, from: string): void {
    let v: unknown;
    try {
      v = JSON.parse(json);
    } catch (err) {
      throw new ClusterError('STATE_INVALID', `step log from ${from} is not JSON`, { cause: err });
    }
    if (!Array.isArray(v) || v.length > MAX_ENTRIES) {
      throw new ClusterError(
        'STATE_INVALID',
        `step log from ${from} is not an array of at most ${MAX_ENTRIES} entries`,
      );
    }
    for (const e of v as unknown[]) {
      const o = e as Partial<StepLogEntry> | null;
      if (o === null || typeof o !== 'object' || !Number.isSafeInteger(o.step) || (o.step as number) < 1) {
        throw new ClusterError('STATE_INVALID', `step log from ${from}: an entry without a step`);
      }
      if (o.record !== undefined) this.put(o.step!, { record: o.record });
      if (o.samples !== undefined) this.put(o.step!, { samples: o.samples });
    }
  }

  private put(step: number, part: { record?: MetricsRecord; samples?: SamplesLine }): void {
    if (step <= this.recordedThrough) return;
    if (!this.entries.has(step) && this.entries.size >= MAX_ENTRIES) {
      throw new ClusterError(
        'RPC_FAILED',
        `${MAX_ENTRIES} committed steps are waiting for the coordinator to record them`,
      );
    }
    this.entries.set(step, { ...this.entries.get(step), ...part });
  }
}
