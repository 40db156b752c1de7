// Original file: proto/harmonium/v1/coordinator.proto

import type { ArraySegment as _harmonium_v1_ArraySegment, ArraySegment__Output as _harmonium_v1_ArraySegment__Output } from '../../harmonium/v1/ArraySegment';

/**
 * A state travels as a header, then the arrays in segments of at most 1 MiB.
 */
export interface StatePart {
  /**
   * JSON: job id, model kind, hyper, param specs, cursor, optimizer scalars, array lengths.
   */
  'headerJson'?: (string);
  'segment'?: (_harmonium_v1_ArraySegment | null);
  'part'?: "headerJson"|"segment";
}

/**
 * A state travels as a header, then the arrays in segments of at most 1 MiB.
 */
export interface StatePart__Output {
  /**
   * JSON: job id, model kind, hyper, param specs, cursor, optimizer scalars, array lengths.
   */
  'headerJson'?: (string);
  'segment'?: (_harmonium_v1_ArraySegment__Output | null);
  'part'?: "headerJson"|"segment";
}
