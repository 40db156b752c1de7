// Original file: proto/harmonium/v1/coordinator.proto

import type { JobInfo as _harmonium_v1_JobInfo, JobInfo__Output as _harmonium_v1_JobInfo__Output } from '../../harmonium/v1/JobInfo';
import type { WorkerInfo as _harmonium_v1_WorkerInfo, WorkerInfo__Output as _harmonium_v1_WorkerInfo__Output } from '../../harmonium/v1/WorkerInfo';

export interface StatusReply {
  'jobs'?: (_harmonium_v1_JobInfo)[];
  'workers'?: (_harmonium_v1_WorkerInfo)[];
}

export interface StatusReply__Output {
  'jobs': (_harmonium_v1_JobInfo__Output)[];
  'workers': (_harmonium_v1_WorkerInfo__Output)[];
}
