// Original file: proto/harmonium/v1/coordinator.proto

import type { Long } from '@grpc/proto-loader';

export interface ArraySegment {
  /**
   * "params", "optimizer/<key>" or "model_state".
   */
  'array'?: (string);
  /**
   * Offset in float32 elements.
   */
  'offset'?: (number | string | Long);
  /**
   * float32 little-endian.
   */
  'data'?: (Buffer | Uint8Array | string);
}

export interface ArraySegment__Output {
  /**
   * "params", "optimizer/<key>" or "model_state".
   */
  'array': (string);
  /**
   * Offset in float32 elements.
   */
  'offset': (number);
  /**
   * float32 little-endian.
   */
  'data': (Buffer);
}
