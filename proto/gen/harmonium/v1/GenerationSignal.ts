// Original file: proto/harmonium/v1/coordinator.proto


export interface GenerationSignal {
  'jobId'?: (string);
  'generation'?: (number);
  'reason'?: (string);
}

export interface GenerationSignal__Output {
  'jobId': (string);
  'generation': (number);
  'reason': (string);
}
