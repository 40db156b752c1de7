/**
 * Where a training loop's outputs go. A process training alone writes them to its output
 * directory (local-host.ts); a cluster worker hands them to the coordinator, which writes them
 * (worker/coordinator-host.ts). The loop calls saveCheckpoint and savePicture on rank 0 only; the
 * committed steps' records (appendMetrics, appendSamples) reach every rank's host, since any rank
 * may have to hand them on after rank 0 is gone.
 */
import type { CheckpointData } from './checkpoint.js';
import type { MetricsRecord } from './metrics-log.js';
import type { SamplesLine } from './samples-log.js';

/** What one completed step looked like on this rank. */
export interface StepInfo {
  readonly step: number;
  readonly epoch: number;
  /** The training phase the step belonged to (0 for a model trained in one phase). */
  readonly phase: number;
  readonly totalSteps: number;
  /** Images seen by the whole job so far. */
  readonly imagesSeen: number;
  /** Images this rank processed in the step. */
  readonly rankImages: number;
  /** The job-wide mean loss of the step (all-reduced). */
  readonly loss: number;
  /** Wall seconds of the whole step on this rank, all-reduce included. */
  readonly stepSeconds: number;
  /** Seconds this rank waited for the step's batch before it (not part of stepSeconds). */
  readonly dataWaitSeconds: number;
  /** Seconds spent in the gradient all-reduce (0 alone), from its first bucket's start to its end. */
  readonly allreduceSeconds: number;
  /** Of those, the seconds after the backward pass: the all-reduce time compute did not hide. */
  readonly allreduceExposedSeconds: number;
  /** Payload bytes all-reduced in the step (0 alone). */
  readonly allreduceBytes: number;
}

/** Receives a loop's checkpoints, metrics and per-step figures. */
export interface TrainingHost {
  /** Rank 0: persist this state as the run's checkpoint; resolves once it is durable. */
  saveCheckpoint(data: CheckpointData): Promise<void>;
  /** Every rank: one line of metrics.jsonl, for a committed step (identical on every rank but timings). */
  appendMetrics(record: MetricsRecord): Promise<void>;
  /** Every rank, with `--audit-samples`: the line of samples.jsonl of a committed step. */
  appendSamples?(line: SamplesLine): Promise<void>;
  /** Rank 0: a picture made during training (a plain file name in the run's output directory). */
  savePicture(name: string, png: Buffer): Promise<void>;
  /** Every rank, after every step (progress bars, Prometheus, heartbeats). */
  stepDone(info: StepInfo): void;
  /** Every rank, after each comparison of the replicas' parameter digests. */
  digestChecked?(matched: boolean): void;
}
