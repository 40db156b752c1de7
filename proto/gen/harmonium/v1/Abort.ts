// Original file: proto/harmonium/v1/coordinator.proto


export interface Abort {
  'reason'?: (string);
  /**
   * The job it is about.
   */
  'jobId'?: (string);
}

export interface Abort__Output {
  'reason': (string);
  /**
   * The job it is about.
   */
  'jobId': (string);
}
