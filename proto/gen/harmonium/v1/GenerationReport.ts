// Original file: proto/harmonium/v1/coordinator.proto

import type { Long } from '@grpc/proto-loader';

export interface GenerationReport {
  'workerId'?: (string);
  'jobId'?: (string);
  'generation'?: (number);
  /**
   * "drained", "broken", "finished" or "leaving".
   */
  'reason'?: (string);
  /**
   * Steps this worker has committed; -1 when it holds none of the job's state.
   */
  'step'?: (number | string | Long);
  /**
   * True when it had computed a step it did not commit.
   */
  'inProgress'?: (boolean);
  /**
   * For "broken": the error code, message and the rank at fault (-1 unknown).
   */
  'code'?: (string);
  'message'?: (string);
  'peer'?: (number);
  /**
   * For "finished" from rank 0: JSON of the run's training totals (seconds, last loss, pictures),
   * which a worker that evaluates in its place needs.
   */
  'totalsJson'?: (string);
}

export interface GenerationReport__Output {
  'workerId': (string);
  'jobId': (string);
  'generation': (number);
  /**
   * "drained", "broken", "finished" or "leaving".
   */
  'reason': (string);
  /**
   * Steps this worker has committed; -1 when it holds none of the job's state.
   */
  'step': (number);
  /**
   * True when it had computed a step it did not commit.
   */
  'inProgress': (boolean);
  /**
   * For "broken": the error code, message and the rank at fault (-1 unknown).
   */
  'code': (string);
  'message': (string);
  'peer': (number);
  /**
   * For "finished" from rank 0: JSON of the run's training totals (seconds, last loss, pictures),
   * which a worker that evaluates in its place needs.
   */
  'totalsJson': (string);
}
