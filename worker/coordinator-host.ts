/**
 * The {@link TrainingHost} of a cluster worker, for one job across its generations: every member
 * keeps the committed steps' records in a {@link StepLog} until the coordinator holds them; rank 0
 * sends them (with each metrics record) and its checkpoints; every rank's steps feed its
 * Prometheus metrics, and the other ranks report their progress every few seconds and right after
 * their first step of a generation (which tells the coordinator the generation trains). Reports
 * never hold up a step: while the coordinator is out of reach (restarted, or replaced by a
 * standby) the records wait in the log, and the next report that gets through carries them.
 */
import { StepLog } from '../core/elastic/step-log.js';
import type { WorkerMetrics } from '../core/metrics/worker-metrics.js';
import type { CheckpointData } from '../core/train/checkpoint.js';
import type { MetricsRecord } from '../core/train/metrics-log.js';
import type { SamplesLine } from '../core/train/samples-log.js';
import type { StepInfo, TrainingHost } from '../core/train/training-host.js';
import type { ResultFile } from '../proto/result-codec.js';
import type { CoordinatorClient } from './coordinator-client.js';
import { LIVE_PICTURE_BYTES } from '../core/job-page/job-page-data.js';

/** Milliseconds between the progress reports of ranks other than 0. */
const REPORT_INTERVAL_MS = 2000;

/** Which job, generation and rank a host reports for. */
export interface HostPlacement {
  readonly jobId: string;
  readonly generation: number;
  readonly rank: number;
}

export class CoordinatorHost implements TrainingHost {
  private readonly client: CoordinatorClient;
  private placementNow: HostPlacement;
  private metricsNow: WorkerMetrics | null = null;
  private lastReport = 0;
  private reportError: unknown = null;
  private firstStepReported = false;
  private sending: Promise<void> | null = null;
  private sendAgain = false;
  /** The committed steps' records the coordinator may not hold yet. */
  readonly log = new StepLog();
  /** Pictures made during training, sent with the results. */
  readonly pictures: ResultFile[] = [];
  /** Rank 0's pictures not reported yet: the job page shows them while the job runs. */
  private livePictures: ResultFile[] = [];
  /** The last step this rank completed. */
  last: StepInfo | null = null;
  /** Called with every step this rank commits (the control thread's heartbeats carry it). */
  onStep: ((step: number) => void) | null = null;

  constructor(client: CoordinatorClient, placement: HostPlacement) {
    this.client = client;
    this.placementNow = placement;
  }

  /** A new generation: where this worker sits in it, and the metrics it feeds. */
  enter(placement: HostPlacement, metrics: WorkerMetrics | null): void {
    this.placementNow = placement;
    this.metricsNow = metrics;
    this.firstStepReported = false;
    this.reportError = null;
  }

  get placement(): HostPlacement {
    return this.placementNow;
  }

  async saveCheckpoint(data: CheckpointData): Promise<void> {
    await this.client.saveState(this.placementNow.jobId, this.placementNow.generation, data);
  }

  appendMetrics(record: MetricsRecord): Promise<void> {
    this.log.addRecord(record);
    if (this.placementNow.rank === 0) this.reportSoon();
    return Promise.resolve();
  }

  async appendSamples(line: SamplesLine): Promise<void> {
    this.log.addSamples(line);
  }

  async savePicture(name: string, png: Buffer): Promise<void> {
    this.pictures.push({ name, data: png });
    // A picture too large for a report goes with the results only.
    if (this.placementNow.rank === 0 && png.length <= LIVE_PICTURE_BYTES)
      this.livePictures.push({ name, data: png });
  }

  stepDone(info: StepInfo): void {
    this.last = info;
    this.onStep?.(info.step);
    this.metricsNow?.recordStep({
      step: info.step,
      seconds: info.stepSeconds,
      images: info.rankImages,
      loss: info.loss,
      phase: info.phase,
      dataWaitSeconds: info.dataWaitSeconds,
    });
    if (info.allreduceBytes > 0) {
      this.metricsNow?.recordAllreduce({
        seconds: info.allreduceSeconds,
        exposedSeconds: info.allreduceExposedSeconds,
        bytes: info.allreduceBytes,
      });
    }
    if (this.reportError) throw this.reportError;
    const now = Date.now();
    if (
      !this.firstStepReported ||
      (this.placementNow.rank !== 0 && now - this.lastReport >= REPORT_INTERVAL_MS)
    ) {
      this.firstStepReported = true;
      this.lastReport = now;
      this.reportSoon();
    }
  }

  /**
   * Reports in the background, one report at a time (the one after carries what came meanwhile);
   * a report that failed for good surfaces at the next step.
   */
  private reportSoon(): void {
    if (this.sending) {
      this.sendAgain = true;
      return;
    }
    this.sending = this.report()
      .catch((err: unknown) => {
        this.reportError = err;
      })
      .finally(() => {
        this.sending = null;
        if (this.sendAgain) {
          this.sendAgain = false;
          this.reportSoon();
        }
      });
  }

  digestChecked(matched: boolean): void {
    this.metricsNow?.recordDigestCheck(matched);
  }

  /** Reports where this rank stands; rank 0 sends the records the coordinator does not hold. */
  async report(step = this.last?.step ?? 0): Promise<void> {
    const s = this.last;
    const p = this.placementNow;
    const recorded = await this.client.report({
      jobId: p.jobId,
      generation: p.generation,
      rank: p.rank,
      step,
      totalSteps: s?.totalSteps ?? 0,
      epoch: s?.epoch ?? 0,
      imagesSeen: s?.imagesSeen ?? 0,
      loss: s?.loss ?? NaN,
      log: p.rank === 0 ? this.log.pending() : [],
      // Sent once: a lost report costs the page a picture until the results bring it.
      pictures: p.rank === 0 ? this.livePictures.splice(0) : [],
    });
    this.log.confirm(recorded);
  }
}
