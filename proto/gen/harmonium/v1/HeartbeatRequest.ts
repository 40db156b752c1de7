// Original file: proto/harmonium/v1/coordinator.proto

import type { Long } from '@grpc/proto-loader';

export interface HeartbeatRequest {
  'workerId'?: (string);
  'jobId'?: (string);
  'generation'?: (number);
  'step'?: (number | string | Long);
}

export interface HeartbeatRequest__Output {
  'workerId': (string);
  'jobId': (string);
  'generation': (number);
  'step': (number);
}
