// Original file: proto/harmonium/v1/coordinator.proto


export interface CancelJobRequest {
  'jobId'?: (string);
  'reason'?: (string);
}

export interface CancelJobRequest__Output {
  'jobId': (string);
  'reason': (string);
}
