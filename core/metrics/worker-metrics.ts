/**
 * The metrics a worker exports: its training throughput, loss and step, how long steps and
 * all-reduces take, and how many bytes it all-reduced.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { createHarmoniumRegistry } from './harmonium-registry.js';

/**
 * Histogram buckets for step and all-reduce durations, in seconds: from a 1 ms all-reduce of a
 * small model over loopback to a 30 s step of a large model on a slow backend.
 */
const DURATION_BUCKETS_SECONDS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** Who the worker is; these become the `job`, `rank` and `model` labels of every series. */
export interface WorkerMetricsOptions {
  readonly job: string;
  readonly rank: number;
  readonly model: string;
}

/** One completed training step. */
export interface StepRecord {
  /** The step just completed. */
  readonly step: number;
  /** Wall time of the whole step, all-reduce included. */
  readonly seconds: number;
  /** Images this worker processed in the step. */
  readonly images: number;
  /** The training loss, only on steps that log it: reading it back from the backend stalls it. */
  readonly loss?: number;
  /** The training phase (greedy layer-wise pretraining, fine-tuning); 0 for a single-phase model. */
  readonly phase?: number;
  /** Seconds the step waited for its batch (the loader did not have it ready). */
  readonly dataWaitSeconds?: number;
}

/** One all-reduce of the gradient buffer. */
export interface AllreduceRecord {
  readonly seconds: number;
  /** Of `seconds`, the time after the backward pass, which no compute hid. */
  readonly exposedSeconds: number;
  /** Payload bytes reduced (the gradient buffer's byte length), not the bytes on the wire. */
  readonly bytes: number;
}

/** A worker's metrics, exported on their own `registry`. */
export interface WorkerMetrics {
  readonly registry: Registry;
  recordStep(record: StepRecord): void;
  recordAllreduce(record: AllreduceRecord): void;
  /** Counts one comparison of this replica's parameter digest with the others'. */
  recordDigestCheck(matched: boolean): void;
}

/** Creates a worker's metrics on a fresh registry that also holds the default process metrics. */
export function createWorkerMetrics(options: WorkerMetricsOptions): WorkerMetrics {
  const registry = createHarmoniumRegistry({ role: 'worker', ...options });
  const registers = [registry];
  const images = new Counter({
    name: 'harmonium_images_processed_total',
    help: 'Training images processed by this worker.',
    registers,
  });
  const loss = new Gauge({ name: 'harmonium_loss', help: 'Last logged training loss.', registers });
  // No sample until a loss is logged: prom-client starts an unlabelled gauge at 0, which a
  // dashboard would show as a perfect loss.
  loss.remove({});
  const step = new Gauge({ name: 'harmonium_step', help: 'Last completed training step.', registers });
  const phase = new Gauge({
    name: 'harmonium_phase',
    help: "Training phase of the last step: an index into the model's phases (summary.json names them).",
    registers,
  });
  const stepDuration = new Histogram({
    name: 'harmonium_step_duration_seconds',
    help: 'Wall time of one training step, all-reduce included.',
    buckets: DURATION_BUCKETS_SECONDS,
    registers,
  });
  const allreduceDuration = new Histogram({
    name: 'harmonium_allreduce_duration_seconds',
    help: 'Wall time of one all-reduce of the gradient buffer.',
    buckets: DURATION_BUCKETS_SECONDS,
    registers,
  });
  const dataWait = new Counter({
    name: 'harmonium_data_wait_seconds_total',
    help: 'Seconds the training loop waited for its next batch (its rate is the fraction of wall time the loader starved the step).',
    registers,
  });
  const allreduceExposed = new Counter({
    name: 'harmonium_allreduce_exposed_seconds_total',
    help: 'All-reduce seconds not hidden behind the backward pass (its rate is the fraction of wall time spent waiting on gradients).',
    registers,
  });
  const allreduceBytes = new Counter({
    name: 'harmonium_allreduce_bytes_total',
    help: 'Payload bytes of the gradient buffers all-reduced.',
    registers,
  });
  const digestChecks = new Counter({
    name: 'harmonium_replica_digest_checks_total',
    help: "Comparisons of this replica's parameter digest with the other replicas', by outcome.",
    labelNames: ['outcome'] as const,
    registers,
  });
  // Both outcomes exist from the start, so that a first mismatch is an increase that rate() and
  // alerts see, not a series appearing out of nothing.
  digestChecks.inc({ outcome: 'match' }, 0);
  digestChecks.inc({ outcome: 'mismatch' }, 0);

  return {
    registry,
    recordStep(record) {
      images.inc(record.images);
      step.set(record.step);
      stepDuration.observe(record.seconds);
      if (record.loss !== undefined) loss.set(record.loss);
      if (record.phase !== undefined) phase.set(record.phase);
      if (record.dataWaitSeconds !== undefined) dataWait.inc(record.dataWaitSeconds);
    },
    recordAllreduce(record) {
      allreduceDuration.observe(record.seconds);
      allreduceExposed.inc(record.exposedSeconds);
      allreduceBytes.inc(record.bytes);
    },
    recordDigestCheck(matched) {
      digestChecks.inc({ outcome: matched ? 'match' : 'mismatch' });
    },
  };
}
