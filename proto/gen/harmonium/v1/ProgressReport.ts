// Original file: proto/harmonium/v1/coordinator.proto

import type { Long } from '@grpc/proto-loader';

export interface ProgressReport {
  'workerId'?: (string);
  'jobId'?: (string);
  'generation'?: (number);
  'rank'?: (number);
  'step'?: (number | string | Long);
  'totalSteps'?: (number | string | Long);
  'epoch'?: (number);
  'imagesSeen'?: (number | string | Long);
  /**
   * Job-wide mean training loss over the steps since the last report (all-reduced).
   */
  'loss'?: (number | string);
  /**
   * Rank 0 only: JSON array of committed steps' records, {step, record?, samples?}, in step order.
   */
  'logJson'?: (string);
}

export interface ProgressReport__Output {
  'workerId': (string);
  'jobId': (string);
  'generation': (number);
  'rank': (number);
  'step': (number);
  'totalSteps': (number);
  'epoch': (number);
  'imagesSeen': (number);
  /**
   * Job-wide mean training loss over the steps since the last report (all-reduced).
   */
  'loss': (number);
  /**
   * Rank 0 only: JSON array of committed steps' records, {step, record?, samples?}, in step order.
   */
  'logJson': (string);
}
