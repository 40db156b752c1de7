/**
 * The {@link TrainingHost} of a cluster worker: rank 0's checkpoints and metrics.jsonl records go
 * to the coordinator, which writes them; every rank's steps feed its Prometheus metrics, and the
 * ranks other than 0 report their progress every few seconds.
 */
import type { WorkerMetrics } from '../core/metrics/worker-metrics.js';
import type { CheckpointData } from '../core/train/checkpoint.js';
import type { MetricsRecord } from '../core/train/metrics-log.js';
import type { StepInfo, TrainingHost } from '../core/train/training-host.js';
import type { ResultFile } from '../proto/result-codec.js';
import type { CoordinatorClient } from './coordinator-client.js';

/** Seconds between the progress reports of ranks other than 0. */
const REPORT_INTERVAL_MS = 2000;

/** Which job and rank a host reports for. */
export interface HostPlacement {
  readonly jobId: string;
  readonly generation: number;
  readonly rank: number;
}

export class CoordinatorHost implements TrainingHost {
  private readonly client: CoordinatorClient;
  private readonly placement: HostPlacement;
  private readonly metrics: WorkerMetrics | null;
  private lastReport = 0;
  private reportError: unknown = null;
  /** Pictures made during training, sent with the results. */
  readonly pictures: ResultFile[] = [];
  /** The last step this rank completed, for heartbeats. */
  last: StepInfo | null = null;

  constructor(client: CoordinatorClient, placement: HostPlacement, metrics: WorkerMetrics | null) {
    this.client = client;
    this.placement = placement;
    this.metrics = metrics;
  }

  async saveCheckpoint(data: CheckpointData): Promise<void> {
    await this.client.saveState(this.placement.jobId, data);
  }

  async appendMetrics(record: MetricsRecord): Promise<void> {
    await this.report(record);
  }

  async savePicture(name: string, png: Buffer): Promise<void> {
    this.pictures.push({ name, data: png });
  }

  stepDone(info: StepInfo): void {
    this.last = info;
    this.metrics?.recordStep({
      step: info.step,
      seconds: info.stepSeconds,
      images: info.rankImages,
      loss: info.loss,
      phase: info.phase,
    });
    if (info.allreduceBytes > 0) {
      this.metrics?.recordAllreduce({ seconds: info.allreduceSeconds, bytes: info.allreduceBytes });
    }
    if (this.reportError) throw this.reportError;
    const now = Date.now();
    if (this.placement.rank !== 0 && now - this.lastReport >= REPORT_INTERVAL_MS) {
      this.lastReport = now;
      // Not awaited: a slow coordinator must not stall the step; a failure surfaces next step.
      this.report(null).catch((err: unknown) => (this.reportError = err));
    }
  }

  digestChecked(matched: boolean): void {
    this.metrics?.recordDigestCheck(matched);
  }

  /** Reports where this rank stands (with a metrics.jsonl record from rank 0). */
  async report(record: MetricsRecord | null): Promise<void> {
    const s = this.last;
    await this.client.report({
      jobId: this.placement.jobId,
      generation: this.placement.generation,
      rank: this.placement.rank,
      step: s?.step ?? 0,
      totalSteps: s?.totalSteps ?? 0,
      epoch: s?.epoch ?? 0,
      imagesSeen: s?.imagesSeen ?? 0,
      loss: record ? record.loss : (s?.loss ?? NaN),
      record,
    });
  }
}
