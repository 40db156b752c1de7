// Original file: proto/harmonium/v1/coordinator.proto


export interface Abort {
  'reason'?: (string);
}

export interface Abort__Output {
  'reason': (string);
}
