// Original file: proto/harmonium/v1/coordinator.proto

import type { Long } from '@grpc/proto-loader';

export interface ReportReply {
  /**
   * Committed steps whose records the coordinator holds (0 for none).
   */
  'recordedStep'?: (number | string | Long);
}

export interface ReportReply__Output {
  /**
   * Committed steps whose records the coordinator holds (0 for none).
   */
  'recordedStep': (number);
}
