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
}
