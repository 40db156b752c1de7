/**
 * A job's output directory, written by the coordinator alone: metrics.jsonl from rank 0's
 * records, the checkpoint from rank 0's state, summary.json and the pictures from rank 0's results.
 * The layout is the single-process trainer's, so every tool reads both the same way.
 */
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { CheckpointError, ConfigError } from '../core/errors.js';
import { join } from 'node:path';
import { writeFileAtomic } from '../core/data/atomic-write.js';
import {
  readCheckpoint,
  writeCheckpoint,
  type Checkpoint,
  type CheckpointData,
} from '../core/train/checkpoint.js';
import { MetricsLog, truncateMetricsLog, type MetricsRecord } from '../core/train/metrics-log.js';
import type { ResultFile } from '../proto/result-codec.js';

export class JobOutputs {
  readonly dir: string;
  private metrics: MetricsLog | null = null;

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
   * Prepares the directory: a fresh job starts metrics.jsonl over; a resumed one keeps its lines up
   * to the checkpoint's step.
   */
  open(resumeStep: number | null): void {
    mkdirSync(this.dir, { recursive: true });
    const path = join(this.dir, 'metrics.jsonl');
    if (resumeStep === null) rmSync(path, { force: true });
    else truncateMetricsLog(path, resumeStep);
    this.metrics = new MetricsLog(path);
  }

  appendMetrics(record: MetricsRecord): void {
    this.metrics?.append(record);
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

  close(): void {
    this.metrics?.close();
    this.metrics = null;
  }
}
