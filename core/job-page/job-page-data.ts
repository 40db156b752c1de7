/**
 * What a job's page shows, as plain JSON: the job's state and progress, its ranks with their step and
 * heartbeat age, its generations and lost workers, its loss and throughput curves (from
 * metrics.jsonl) and its pictures. The coordinator serves it live (`/jobs/ID/status.json`) and writes
 * it into the run's job.html at the end; the page draws everything from it.
 */

/** One point of the curves: a metrics.jsonl record's step, loss and throughput. */
export interface CurvePoint {
  readonly step: number;
  readonly epoch: number;
  readonly loss: number;
  readonly imagesPerSecond: number;
}

/** A member of the current generation. */
export interface RankRow {
  readonly rank: number;
  readonly worker: string;
  /** The last step it reported committed. */
  readonly step: number;
  /** Seconds since its last heartbeat, as the coordinator saw it; null when none yet. */
  readonly heartbeatAgeSeconds: number | null;
}

/** A generation of the job (a membership the group trained in). */
export interface GenerationRow {
  readonly generation: number;
  readonly fromStep: number;
  readonly workers: number;
  /** How it started: fresh, checkpoint, or from a peer's state. */
  readonly start: string;
  /** Milliseconds since the epoch. */
  readonly formedAt: number;
  readonly firstStepAt: number | null;
  readonly endedBecause: string;
}

/** A worker the job lost or released. */
export interface FailureRow {
  readonly worker: string;
  readonly reason: string;
  readonly generation: number;
  readonly step: number;
}

/** Everything on the page. */
export interface JobPageData {
  readonly job: {
    readonly id: string;
    readonly state: string;
    readonly message: string;
    readonly model: string;
    readonly generation: number;
    readonly step: number;
    readonly totalSteps: number;
    readonly worldSize: number;
    readonly workers: number;
    readonly minWorkers: number;
    /** Milliseconds since the epoch. */
    readonly submittedAt: number;
    readonly endedAt: number | null;
  };
  readonly ranks: readonly RankRow[];
  readonly generations: readonly GenerationRow[];
  readonly failures: readonly FailureRow[];
  readonly curve: readonly CurvePoint[];
  /** File names of the job's pictures (epoch samples...), oldest first. */
  readonly pictures: readonly string[];
  /** When the data was taken, milliseconds since the epoch. */
  readonly updatedAt: number;
}

/** The job page a run directory keeps, beside summary.json. */
export const JOB_PAGE_FILE = 'job.html';

/** The largest picture a progress report carries to the job page (the results carry any size). */
export const LIVE_PICTURE_BYTES = 2 << 20;

/** Whether `bytes` start as a PNG file does. */
export function isPng(bytes: Uint8Array): boolean {
  const sig = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
  return bytes.length > sig.length && sig.every((b, i) => bytes[i] === b);
}

/** What a picture of a run may be called: a plain file name, so it can never name a path. */
export const PICTURE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}\.png$/;

/** The most points a curve sends; a longer one keeps every k-th point and its last. */
export const CURVE_POINTS = 1000;

/** `curve` cut to at most {@link CURVE_POINTS} evenly spaced points, its last one kept. */
export function thinCurve(curve: readonly CurvePoint[]): CurvePoint[] {
  if (curve.length <= CURVE_POINTS) return [...curve];
  const every = Math.ceil(curve.length / CURVE_POINTS);
  const kept = curve.filter((_, i) => i % every === 0);
  if (kept[kept.length - 1] !== curve[curve.length - 1]) kept.push(curve[curve.length - 1]!);
  return kept;
}

/**
 * The curve of metrics.jsonl records: their step, epoch, loss and images/s, in step order; records
 * without a finite step are left out (a partial line), a non-finite loss kept as NaN (a divergence
 * shows as a gap).
 */
export function curveOf(records: readonly Readonly<Record<string, number>>[]): CurvePoint[] {
  return records
    .filter((r) => Number.isFinite(r['step']))
    .map((r) => ({
      step: r['step']!,
      epoch: r['epoch'] ?? 0,
      loss: Number.isFinite(r['loss']) ? r['loss']! : NaN,
      imagesPerSecond: Number.isFinite(r['images_per_second']) ? r['images_per_second']! : NaN,
    }))
    .sort((a, b) => a.step - b.step);
}
