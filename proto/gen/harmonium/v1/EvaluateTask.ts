// Original file: proto/harmonium/v1/coordinator.proto


export interface EvaluateTask {
  'jobId'?: (string);
  'configJson'?: (string);
  /**
   * JSON of the training totals rank 0 reported when it finished training.
   */
  'totalsJson'?: (string);
}

export interface EvaluateTask__Output {
  'jobId': (string);
  'configJson': (string);
  /**
   * JSON of the training totals rank 0 reported when it finished training.
   */
  'totalsJson': (string);
}
