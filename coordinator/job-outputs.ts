/**
 * A job's output directory, written by the coordinator alone: metrics.jsonl and samples.jsonl from
 * the committed steps' records that rank 0 sends (each step once, whichever rank 0 sent it, however
 * often it was sent), the checkpoint from rank 0's state, summary.json and the pictures from the
 * results. The layout is the single-process trainer's, so every tool reads both the same way.
 *
 * `.recorded-step` says through which committed step the logs are complete; it is written after
 * every append, before the coordinator tells rank 0 so. A coordinator that adopts the job after a
 * crash cuts the logs back to it, and rank 0 (which drops nothing it was not told is recorded)
 * sends the rest again: no step is missing and none is written twice.
 */
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { readFile } from 'node:fs/promises';
import { CheckpointError, ConfigError } from '../core/errors.js';
import { join } from 'node:path';
import { writeFileAtomic } from '../core/data/atomic-write.js';
import {
  readCheckpoint,
  writeCheckpoint,
  type Checkpoint,
  type CheckpointData,
} from '../core/train/checkpoint.js';
import type { StepLogEntry } from '../core/elastic/step-log.js';
import {
  MetricsLog,
  readMetricsLog,
  truncateMetricsLog,
  type MetricsRecord,
} from '../core/train/metrics-log.js';
import { JOB_PAGE_FILE, PICTURE_NAME } from '../core/job-page/job-page-data.js';
import { SamplesLog, truncateSamplesLog } from '../core/train/samples-log.js';
import type { ResultFile } from '../proto/result-codec.js';

export class JobOutputs {
  readonly dir: string;
  private metrics: MetricsLog | null = null;
  private samples: SamplesLog | null = null;
  private audit = false;
  private recordedThrough = -1;

  constructor(dir: string) {
    this.dir = dir;
  }

  get checkpointDir(): string {
    return join(this.dir, 'checkpoint');
  }

  /**
   * The step of the checkpoint a resumed job starts from, read from its checkpoint.json (the
   * arrays are verified when the workers fetch them); a ConfigError when there is none.
   */
  checkpointStep(): number {
    const path = join(this.checkpointDir, 'checkpoint.json');
    if (!existsSync(path))
      throw new ConfigError('resume', `no checkpoint at ${this.checkpointDir} to resume from`);
    let step: unknown;
    try {
      step = (JSON.parse(readFileSync(path, 'utf8')) as { cursor?: { step?: unknown } }).cursor?.step;
    } catch (err) {
      throw new CheckpointError('CHECKPOINT_INVALID', `cannot read ${path}: ${(err as Error).message}`, {
        cause: err,
      });
    }
    if (typeof step !== 'number' || !Number.isSafeInteger(step) || step < 0) {
      throw new CheckpointError('CHECKPOINT_INVALID', `${path}: cursor.step is missing or not a step number`);
    }
    return step;
  }

  /**
   * Prepares the directory: a fresh job starts metrics.jsonl (and, with `audit`, samples.jsonl) over;
   * a resumed one keeps their lines up to the checkpoint's step.
   */
  open(resumeStep: number | null, audit: boolean): void {
    mkdirSync(this.dir, { recursive: true });
    this.audit = audit;
    if (resumeStep === null) {
      rmSync(this.metricsPath, { force: true });
      rmSync(this.samplesPath, { force: true });
    }
    this.reopen(resumeStep ?? -1);
  }

  /**
   * Opens the directory of a job that was running when a coordinator stopped: the logs are cut back
   * to the step `.recorded-step` names (what may have been written after it was never confirmed).
   */
  adopt(audit: boolean): void {
    mkdirSync(this.dir, { recursive: true });
    this.audit = audit;
    let step = 0;
    if (existsSync(this.markerPath)) {
      const text = readFileSync(this.markerPath, 'utf8').trim();
      step = Number(text);
      if (!/^\d+$/.test(text) || !Number.isSafeInteger(step)) {
        throw new CheckpointError('CHECKPOINT_INVALID', `${this.markerPath}: not a step number: "${text}"`);
      }
    }
    this.reopen(step);
  }

  /** The last committed step whose records are written; -1 before any. */
  get recordedStep(): number {
    return this.recordedThrough;
  }

  /**
   * Writes the entries after the recorded step, in order: a record of a step already written (a new
   * rank 0 sending what the old one had sent) is skipped. Returns the recorded step.
   */
  appendLog(entries: readonly StepLogEntry[]): number {
    for (const e of [...entries].sort((a, b) => a.step - b.step)) {
      if (e.step <= this.recordedThrough) continue;
      if (e.record) this.metrics?.append(e.record);
      if (e.samples && this.samples) this.samples.append(e.samples);
      this.recordedThrough = e.step;
    }
    this.writeMarker();
    return this.recordedThrough;
  }

  /** Drops the records after step `step` (the job fell back to its checkpoint there). */
  truncateTo(step: number): void {
    this.closeLogs();
    this.reopen(step);
  }

  private get metricsPath(): string {
    return join(this.dir, 'metrics.jsonl');
  }

  private get markerPath(): string {
    return join(this.dir, '.recorded-step');
  }

  /** Replaced by a rename: a coordinator killed mid-write leaves the old marker, never a torn one. */
  private writeMarker(): void {
    const tmp = `${this.markerPath}.tmp`;
    writeFileSync(tmp, `${Math.max(this.recordedThrough, 0)}\n`);
    renameSync(tmp, this.markerPath);
  }

  private get samplesPath(): string {
    return join(this.dir, 'samples.jsonl');
  }

  private reopen(step: number): void {
    if (step >= 0) {
      truncateMetricsLog(this.metricsPath, step);
      truncateSamplesLog(this.samplesPath, step);
    }
    this.metrics = new MetricsLog(this.metricsPath);
    this.samples = this.audit ? new SamplesLog(this.samplesPath) : null;
    this.recordedThrough = Math.max(step, 0);
    this.writeMarker();
  }

  private closeLogs(): void {
    this.metrics?.close();
    this.metrics = null;
    this.samples?.close();
    this.samples = null;
  }

  readCheckpoint(): Promise<Checkpoint> {
    return readCheckpoint(this.checkpointDir);
  }

  /** Writes the checkpoint atomically: a crash leaves the previous one intact. */
  async writeCheckpoint(data: CheckpointData): Promise<void> {
    await writeCheckpoint(this.checkpointDir, data);
  }

  /** Writes rank 0's files, then summary.json last, so its presence means the run is complete. */
  async writeResults(summary: Record<string, unknown>, files: readonly ResultFile[]): Promise<void> {
    for (const f of files) await writeFileAtomic(join(this.dir, f.name), f.data);
    await writeFileAtomic(join(this.dir, 'summary.json'), JSON.stringify(summary, null, 2) + '\n');
  }

  /** Writes a picture the job made (validated by the caller) beside its other outputs. */
  async writePicture(name: string, png: Uint8Array): Promise<void> {
    await writeFileAtomic(join(this.dir, name), png);
  }

  /** The run's pictures (PNG files of a plain name), oldest first. */
  pictureNames(): string[] {
    let names: string[];
    try {
      names = readdirSync(this.dir).filter((n) => PICTURE_NAME.test(n));
    } catch {
      return [];
    }
    const when = (n: string): number => {
      try {
        return statSync(join(this.dir, n)).mtimeMs;
      } catch {
        return Infinity;
      }
    };
    const at = new Map(names.map((n) => [n, when(n)]));
    return names.sort((a, b) => at.get(a)! - at.get(b)! || a.localeCompare(b));
  }

  /** A picture's bytes, or null when the run has none of that (plain) name. */
  async readPicture(name: string): Promise<Buffer | null> {
    if (!PICTURE_NAME.test(name)) return null;
    try {
      return await readFile(join(this.dir, name));
    } catch {
      return null;
    }
  }

  /** The metrics.jsonl records written so far (none before the first). */
  metricsRecords(): MetricsRecord[] {
    return existsSync(this.metricsPath) ? readMetricsLog(this.metricsPath) : [];
  }

  /** Writes the run's job page (job.html), readable without the coordinator. */
  async writeJobPage(html: string): Promise<void> {
    await writeFileAtomic(join(this.dir, JOB_PAGE_FILE), html);
  }

  close(): void {
    this.closeLogs();
  }
}
