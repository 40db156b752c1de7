// Original file: proto/harmonium/v1/coordinator.proto


export interface SubmitJobRequest {
  'configJson'?: (string);
  'workers'?: (number);
}

export interface SubmitJobRequest__Output {
  'configJson': (string);
  'workers': (number);
}
