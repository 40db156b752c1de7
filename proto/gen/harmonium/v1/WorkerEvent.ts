// Original file: proto/harmonium/v1/coordinator.proto

import type { Assignment as _harmonium_v1_Assignment, Assignment__Output as _harmonium_v1_Assignment__Output } from '../../harmonium/v1/Assignment';
import type { Abort as _harmonium_v1_Abort, Abort__Output as _harmonium_v1_Abort__Output } from '../../harmonium/v1/Abort';

export interface WorkerEvent {
  'assignment'?: (_harmonium_v1_Assignment | null);
  'abort'?: (_harmonium_v1_Abort | null);
  'event'?: "assignment"|"abort";
}

export interface WorkerEvent__Output {
  'assignment'?: (_harmonium_v1_Assignment__Output | null);
  'abort'?: (_harmonium_v1_Abort__Output | null);
  'event'?: "assignment"|"abort";
}
