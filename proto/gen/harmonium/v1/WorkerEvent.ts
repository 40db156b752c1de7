// Original file: proto/harmonium/v1/coordinator.proto

import type { Assignment as _harmonium_v1_Assignment, Assignment__Output as _harmonium_v1_Assignment__Output } from '../../harmonium/v1/Assignment';
import type { Abort as _harmonium_v1_Abort, Abort__Output as _harmonium_v1_Abort__Output } from '../../harmonium/v1/Abort';
import type { GenerationSignal as _harmonium_v1_GenerationSignal, GenerationSignal__Output as _harmonium_v1_GenerationSignal__Output } from '../../harmonium/v1/GenerationSignal';
import type { EvaluateTask as _harmonium_v1_EvaluateTask, EvaluateTask__Output as _harmonium_v1_EvaluateTask__Output } from '../../harmonium/v1/EvaluateTask';

export interface WorkerEvent {
  'assignment'?: (_harmonium_v1_Assignment | null);
  /**
   * The worker's job is over for it (ended, cancelled, or the worker was fenced): back to the pool.
   */
  'abort'?: (_harmonium_v1_Abort | null);
  /**
   * Stop at the next step boundary the members agree on, then answer GenerationDone.
   */
  'drain'?: (_harmonium_v1_GenerationSignal | null);
  /**
   * Close the generation's group now (a member was lost), then answer GenerationDone.
   */
  'endGeneration'?: (_harmonium_v1_GenerationSignal | null);
  /**
   * Evaluate a job's final checkpoint and send its results (its rank 0 was lost after training).
   */
  'evaluate'?: (_harmonium_v1_EvaluateTask | null);
  'event'?: "assignment"|"abort"|"drain"|"endGeneration"|"evaluate";
}

export interface WorkerEvent__Output {
  'assignment'?: (_harmonium_v1_Assignment__Output | null);
  /**
   * The worker's job is over for it (ended, cancelled, or the worker was fenced): back to the pool.
   */
  'abort'?: (_harmonium_v1_Abort__Output | null);
  /**
   * Stop at the next step boundary the members agree on, then answer GenerationDone.
   */
  'drain'?: (_harmonium_v1_GenerationSignal__Output | null);
  /**
   * Close the generation's group now (a member was lost), then answer GenerationDone.
   */
  'endGeneration'?: (_harmonium_v1_GenerationSignal__Output | null);
  /**
   * Evaluate a job's final checkpoint and send its results (its rank 0 was lost after training).
   */
  'evaluate'?: (_harmonium_v1_EvaluateTask__Output | null);
  'event'?: "assignment"|"abort"|"drain"|"endGeneration"|"evaluate";
}
