import type * as grpc from '@grpc/grpc-js';
import type { MessageTypeDefinition } from '@grpc/proto-loader';

import type { Abort as _harmonium_v1_Abort, Abort__Output as _harmonium_v1_Abort__Output } from './harmonium/v1/Abort';
import type { Ack as _harmonium_v1_Ack, Ack__Output as _harmonium_v1_Ack__Output } from './harmonium/v1/Ack';
import type { ArraySegment as _harmonium_v1_ArraySegment, ArraySegment__Output as _harmonium_v1_ArraySegment__Output } from './harmonium/v1/ArraySegment';
import type { Assignment as _harmonium_v1_Assignment, Assignment__Output as _harmonium_v1_Assignment__Output } from './harmonium/v1/Assignment';
import type { CancelJobRequest as _harmonium_v1_CancelJobRequest, CancelJobRequest__Output as _harmonium_v1_CancelJobRequest__Output } from './harmonium/v1/CancelJobRequest';
import type { CoordinatorClient as _harmonium_v1_CoordinatorClient, CoordinatorDefinition as _harmonium_v1_CoordinatorDefinition } from './harmonium/v1/Coordinator';
import type { EvaluateTask as _harmonium_v1_EvaluateTask, EvaluateTask__Output as _harmonium_v1_EvaluateTask__Output } from './harmonium/v1/EvaluateTask';
import type { FailureReport as _harmonium_v1_FailureReport, FailureReport__Output as _harmonium_v1_FailureReport__Output } from './harmonium/v1/FailureReport';
import type { FetchStateRequest as _harmonium_v1_FetchStateRequest, FetchStateRequest__Output as _harmonium_v1_FetchStateRequest__Output } from './harmonium/v1/FetchStateRequest';
import type { FileSegment as _harmonium_v1_FileSegment, FileSegment__Output as _harmonium_v1_FileSegment__Output } from './harmonium/v1/FileSegment';
import type { GenerationReport as _harmonium_v1_GenerationReport, GenerationReport__Output as _harmonium_v1_GenerationReport__Output } from './harmonium/v1/GenerationReport';
import type { GenerationSignal as _harmonium_v1_GenerationSignal, GenerationSignal__Output as _harmonium_v1_GenerationSignal__Output } from './harmonium/v1/GenerationSignal';
import type { HeartbeatReply as _harmonium_v1_HeartbeatReply, HeartbeatReply__Output as _harmonium_v1_HeartbeatReply__Output } from './harmonium/v1/HeartbeatReply';
import type { HeartbeatRequest as _harmonium_v1_HeartbeatRequest, HeartbeatRequest__Output as _harmonium_v1_HeartbeatRequest__Output } from './harmonium/v1/HeartbeatRequest';
import type { JobInfo as _harmonium_v1_JobInfo, JobInfo__Output as _harmonium_v1_JobInfo__Output } from './harmonium/v1/JobInfo';
import type { JoinRequest as _harmonium_v1_JoinRequest, JoinRequest__Output as _harmonium_v1_JoinRequest__Output } from './harmonium/v1/JoinRequest';
import type { LeaveRequest as _harmonium_v1_LeaveRequest, LeaveRequest__Output as _harmonium_v1_LeaveRequest__Output } from './harmonium/v1/LeaveRequest';
import type { Picture as _harmonium_v1_Picture, Picture__Output as _harmonium_v1_Picture__Output } from './harmonium/v1/Picture';
import type { ProgressReport as _harmonium_v1_ProgressReport, ProgressReport__Output as _harmonium_v1_ProgressReport__Output } from './harmonium/v1/ProgressReport';
import type { ReportReply as _harmonium_v1_ReportReply, ReportReply__Output as _harmonium_v1_ReportReply__Output } from './harmonium/v1/ReportReply';
import type { ResultPart as _harmonium_v1_ResultPart, ResultPart__Output as _harmonium_v1_ResultPart__Output } from './harmonium/v1/ResultPart';
import type { StatePart as _harmonium_v1_StatePart, StatePart__Output as _harmonium_v1_StatePart__Output } from './harmonium/v1/StatePart';
import type { StatusReply as _harmonium_v1_StatusReply, StatusReply__Output as _harmonium_v1_StatusReply__Output } from './harmonium/v1/StatusReply';
import type { StatusRequest as _harmonium_v1_StatusRequest, StatusRequest__Output as _harmonium_v1_StatusRequest__Output } from './harmonium/v1/StatusRequest';
import type { SubmitJobRequest as _harmonium_v1_SubmitJobRequest, SubmitJobRequest__Output as _harmonium_v1_SubmitJobRequest__Output } from './harmonium/v1/SubmitJobRequest';
import type { WorkerEvent as _harmonium_v1_WorkerEvent, WorkerEvent__Output as _harmonium_v1_WorkerEvent__Output } from './harmonium/v1/WorkerEvent';
import type { WorkerInfo as _harmonium_v1_WorkerInfo, WorkerInfo__Output as _harmonium_v1_WorkerInfo__Output } from './harmonium/v1/WorkerInfo';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new(...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  harmonium: {
    v1: {
      Abort: MessageTypeDefinition<_harmonium_v1_Abort, _harmonium_v1_Abort__Output>
      Ack: MessageTypeDefinition<_harmonium_v1_Ack, _harmonium_v1_Ack__Output>
      ArraySegment: MessageTypeDefinition<_harmonium_v1_ArraySegment, _harmonium_v1_ArraySegment__Output>
      Assignment: MessageTypeDefinition<_harmonium_v1_Assignment, _harmonium_v1_Assignment__Output>
      CancelJobRequest: MessageTypeDefinition<_harmonium_v1_CancelJobRequest, _harmonium_v1_CancelJobRequest__Output>
      Coordinator: SubtypeConstructor<typeof grpc.Client, _harmonium_v1_CoordinatorClient> & { service: _harmonium_v1_CoordinatorDefinition }
      EvaluateTask: MessageTypeDefinition<_harmonium_v1_EvaluateTask, _harmonium_v1_EvaluateTask__Output>
      FailureReport: MessageTypeDefinition<_harmonium_v1_FailureReport, _harmonium_v1_FailureReport__Output>
      FetchStateRequest: MessageTypeDefinition<_harmonium_v1_FetchStateRequest, _harmonium_v1_FetchStateRequest__Output>
      FileSegment: MessageTypeDefinition<_harmonium_v1_FileSegment, _harmonium_v1_FileSegment__Output>
      GenerationReport: MessageTypeDefinition<_harmonium_v1_GenerationReport, _harmonium_v1_GenerationReport__Output>
      GenerationSignal: MessageTypeDefinition<_harmonium_v1_GenerationSignal, _harmonium_v1_GenerationSignal__Output>
      HeartbeatReply: MessageTypeDefinition<_harmonium_v1_HeartbeatReply, _harmonium_v1_HeartbeatReply__Output>
      HeartbeatRequest: MessageTypeDefinition<_harmonium_v1_HeartbeatRequest, _harmonium_v1_HeartbeatRequest__Output>
      JobInfo: MessageTypeDefinition<_harmonium_v1_JobInfo, _harmonium_v1_JobInfo__Output>
      JoinRequest: MessageTypeDefinition<_harmonium_v1_JoinRequest, _harmonium_v1_JoinRequest__Output>
      LeaveRequest: MessageTypeDefinition<_harmonium_v1_LeaveRequest, _harmonium_v1_LeaveRequest__Output>
      Picture: MessageTypeDefinition<_harmonium_v1_Picture, _harmonium_v1_Picture__Output>
      ProgressReport: MessageTypeDefinition<_harmonium_v1_ProgressReport, _harmonium_v1_ProgressReport__Output>
      ReportReply: MessageTypeDefinition<_harmonium_v1_ReportReply, _harmonium_v1_ReportReply__Output>
      ResultPart: MessageTypeDefinition<_harmonium_v1_ResultPart, _harmonium_v1_ResultPart__Output>
      StatePart: MessageTypeDefinition<_harmonium_v1_StatePart, _harmonium_v1_StatePart__Output>
      StatusReply: MessageTypeDefinition<_harmonium_v1_StatusReply, _harmonium_v1_StatusReply__Output>
      StatusRequest: MessageTypeDefinition<_harmonium_v1_StatusRequest, _harmonium_v1_StatusRequest__Output>
      SubmitJobRequest: MessageTypeDefinition<_harmonium_v1_SubmitJobRequest, _harmonium_v1_SubmitJobRequest__Output>
      WorkerEvent: MessageTypeDefinition<_harmonium_v1_WorkerEvent, _harmonium_v1_WorkerEvent__Output>
      WorkerInfo: MessageTypeDefinition<_harmonium_v1_WorkerInfo, _harmonium_v1_WorkerInfo__Output>
    }
  }
}

