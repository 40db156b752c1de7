// Original file: proto/harmonium/v1/coordinator.proto

import type { Long } from '@grpc/proto-loader';

export interface WorkerInfo {
  'workerId'?: (string);
  'hostname'?: (string);
  'pid'?: (number);
  'collectiveAddress'?: (string);
  'jobId'?: (string);
  /**
   * -1 while idle.
   */
  'rank'?: (number);
  'step'?: (number | string | Long);
  'lastHeartbeatAgeSeconds'?: (number | string);
  'metricsAddress'?: (string);
}

export interface WorkerInfo__Output {
  'workerId': (string);
  'hostname': (string);
  'pid': (number);
  'collectiveAddress': (string);
  'jobId': (string);
  /**
   * -1 while idle.
   */
  'rank': (number);
  'step': (number);
  'lastHeartbeatAgeSeconds': (number);
  'metricsAddress': (string);
}
