// Original file: proto/harmonium/v1/coordinator.proto

import type { Picture as _harmonium_v1_Picture, Picture__Output as _harmonium_v1_Picture__Output } from '../../harmonium/v1/Picture';
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
  /**
   * Rank 0 only: the pictures made since its last report (epoch sample grids), for the job page
   * while the job runs; the results carry them again at the end. Each a PNG of at most 2 MiB.
   */
  'pictures'?: (_harmonium_v1_Picture)[];
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
  /**
   * Rank 0 only: the pictures made since its last report (epoch sample grids), for the job page
   * while the job runs; the results carry them again at the end. Each a PNG of at most 2 MiB.
   */
  'pictures': (_harmonium_v1_Picture__Output)[];
}
