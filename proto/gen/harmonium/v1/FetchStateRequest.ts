// Original file: proto/harmonium/v1/coordinator.proto


export interface FetchStateRequest {
  'workerId'?: (string);
  'jobId'?: (string);
  'rank'?: (number);
  'worldSize'?: (number);
}

export interface FetchStateRequest__Output {
  'workerId': (string);
  'jobId': (string);
  'rank': (number);
  'worldSize': (number);
}
