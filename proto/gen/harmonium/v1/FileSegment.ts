// Original file: proto/harmonium/v1/coordinator.proto

import type { Long } from '@grpc/proto-loader';

export interface FileSegment {
  /**
   * Relative path inside the run's output directory (e.g. "reconstructions.png").
   */
  'name'?: (string);
  'offset'?: (number | string | Long);
  'data'?: (Buffer | Uint8Array | string);
  'last'?: (boolean);
}

export interface FileSegment__Output {
  /**
   * Relative path inside the run's output directory (e.g. "reconstructions.png").
   */
  'name': (string);
  'offset': (number);
  'data': (Buffer);
  'last': (boolean);
}
