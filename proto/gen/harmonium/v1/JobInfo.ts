// Original file: proto/harmonium/v1/coordinator.proto

import type { Long } from '@grpc/proto-loader';

export interface JobInfo {
  'jobId'?: (string);
  'state'?: (string);
  'model'?: (string);
  'workers'?: (number);
  'generation'?: (number);
  'step'?: (number | string | Long);
  'totalSteps'?: (number | string | Long);
  'loss'?: (number | string);
  /**
   * Why the job failed or was cancelled; empty otherwise.
   */
  'message'?: (string);
  'out'?: (string);
  /**
   * Unix milliseconds.
   */
  'submittedAtMs'?: (number | string);
  'endedAtMs'?: (number | string);
  /**
   * Members of the current generation.
   */
  'worldSize'?: (number);
  /**
   * Fewest workers the job trains with.
   */
  'minWorkers'?: (number);
  /**
   * Workers the job lost so far (a graceful leave is not counted).
   */
  'failures'?: (number);
  /**
   * The last loss or leave, e.g. "worker w1 (rank 1) hung at step 40"; empty when none.
   */
  'lastFailure'?: (string);
}

export interface JobInfo__Output {
  'jobId': (string);
  'state': (string);
  'model': (string);
  'workers': (number);
  'generation': (number);
  'step': (number);
  'totalSteps': (number);
  'loss': (number);
  /**
   * Why the job failed or was cancelled; empty otherwise.
   */
  'message': (string);
  'out': (string);
  /**
   * Unix milliseconds.
   */
  'submittedAtMs': (number);
  'endedAtMs': (number);
  /**
   * Members of the current generation.
   */
  'worldSize': (number);
  /**
   * Fewest workers the job trains with.
   */
  'minWorkers': (number);
  /**
   * Workers the job lost so far (a graceful leave is not counted).
   */
  'failures': (number);
  /**
   * The last loss or leave, e.g. "worker w1 (rank 1) hung at step 40"; empty when none.
   */
  'lastFailure': (string);
}
