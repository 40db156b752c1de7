// Original file: proto/harmonium/v1/coordinator.proto


export interface FailureReport {
  'workerId'?: (string);
  'jobId'?: (string);
  'generation'?: (number);
  'rank'?: (number);
  /**
   * Stable error code (e.g. COLLECTIVE_LINK, REPLICA_DIVERGED).
   */
  'code'?: (string);
  'message'?: (string);
  /**
   * Rank at fault as the worker sees it, -1 when none is known.
   */
  'peer'?: (number);
}

export interface FailureReport__Output {
  'workerId': (string);
  'jobId': (string);
  'generation': (number);
  'rank': (number);
  /**
   * Stable error code (e.g. COLLECTIVE_LINK, REPLICA_DIVERGED).
   */
  'code': (string);
  'message': (string);
  /**
   * Rank at fault as the worker sees it, -1 when none is known.
   */
  'peer': (number);
}
