/**
 * The {@link TrainingHost} of a process training alone: checkpoints and metrics.jsonl go straight
 * into the run's output directory.
 */
import { join } from 'node:path';
import { writeFileAtomic } from '../data/atomic-write.js';
import { writeCheckpoint, type CheckpointData } from './checkpoint.js';
import { MetricsLog, type MetricsRecord } from './metrics-log.js';
import { SamplesLog, type SamplesLine } from './samples-log.js';
import type { StepInfo, TrainingHost } from './training-host.js';

export class LocalHost implements TrainingHost {
  private readonly outDir: string;
  private readonly checkpointDir: string;
  private readonly metrics: MetricsLog;
  private readonly samples: SamplesLog | null;
  private readonly onStep: ((info: StepInfo) => void) | null;

  /**
   * Writes into `outDir` (checkpoint/, metrics.jsonl, and samples.jsonl when `audit`); `onStep`
   * sees every step.
   */
  constructor(outDir: string, audit: boolean, onStep: ((info: StepInfo) => void) | null = null) {
    this.outDir = outDir;
    this.checkpointDir = join(outDir, 'checkpoint');
    this.metrics = new MetricsLog(join(outDir, 'metrics.jsonl'));
    this.samples = audit ? new SamplesLog(join(outDir, 'samples.jsonl')) : null;
    this.onStep = onStep;
  }

  async saveCheckpoint(data: CheckpointData): Promise<void> {
    await writeCheckpoint(this.checkpointDir, data);
  }

  async appendMetrics(record: MetricsRecord): Promise<void> {
    this.metrics.append(record);
  }

  async appendSamples(line: SamplesLine): Promise<void> {
    this.samples?.append(line);
  }

  async savePicture(name: string, png: Buffer): Promise<void> {
    await writeFileAtomic(join(this.outDir, name), png);
  }

  stepDone(info: StepInfo): void {
    this.onStep?.(info);
  }

  /** Closes metrics.jsonl and samples.jsonl. */
  close(): void {
    this.metrics.close();
    this.samples?.close();
  }
}
