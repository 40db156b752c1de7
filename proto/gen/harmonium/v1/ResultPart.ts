// Original file: proto/harmonium/v1/coordinator.proto

import type { FileSegment as _harmonium_v1_FileSegment, FileSegment__Output as _harmonium_v1_FileSegment__Output } from '../../harmonium/v1/FileSegment';

export interface ResultPart {
  /**
   * JSON: job id and summary.json as rank 0 computed it.
   */
  'summaryJson'?: (string);
  'file'?: (_harmonium_v1_FileSegment | null);
  'part'?: "summaryJson"|"file";
}

export interface ResultPart__Output {
  /**
   * JSON: job id and summary.json as rank 0 computed it.
   */
  'summaryJson'?: (string);
  'file'?: (_harmonium_v1_FileSegment__Output | null);
  'part'?: "summaryJson"|"file";
}
