// Original file: proto/harmonium/v1/coordinator.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { Ack as _harmonium_v1_Ack, Ack__Output as _harmonium_v1_Ack__Output } from '../../harmonium/v1/Ack';
import type { CancelJobRequest as _harmonium_v1_CancelJobRequest, CancelJobRequest__Output as _harmonium_v1_CancelJobRequest__Output } from '../../harmonium/v1/CancelJobRequest';
import type { FailureReport as _harmonium_v1_FailureReport, FailureReport__Output as _harmonium_v1_FailureReport__Output } from '../../harmonium/v1/FailureReport';
import type { FetchStateRequest as _harmonium_v1_FetchStateRequest, FetchStateRequest__Output as _harmonium_v1_FetchStateRequest__Output } from '../../harmonium/v1/FetchStateRequest';
import type { GenerationReport as _harmonium_v1_GenerationReport, GenerationReport__Output as _harmonium_v1_GenerationReport__Output } from '../../harmonium/v1/GenerationReport';
import type { HeartbeatReply as _harmonium_v1_HeartbeatReply, HeartbeatReply__Output as _harmonium_v1_HeartbeatReply__Output } from '../../harmonium/v1/HeartbeatReply';
import type { HeartbeatRequest as _harmonium_v1_HeartbeatRequest, HeartbeatRequest__Output as _harmonium_v1_HeartbeatRequest__Output } from '../../harmonium/v1/HeartbeatRequest';
import type { JobInfo as _harmonium_v1_JobInfo, JobInfo__Output as _harmonium_v1_JobInfo__Output } from '../../harmonium/v1/JobInfo';
import type { JoinRequest as _harmonium_v1_JoinRequest, JoinRequest__Output as _harmonium_v1_JoinRequest__Output } from '../../harmonium/v1/JoinRequest';
import type { LeaveRequest as _harmonium_v1_LeaveRequest, LeaveRequest__Output as _harmonium_v1_LeaveRequest__Output } from '../../harmonium/v1/LeaveRequest';
import type { ProgressReport as _harmonium_v1_ProgressReport, ProgressReport__Output as _harmonium_v1_ProgressReport__Output } from '../../harmonium/v1/ProgressReport';
import type { ReportReply as _harmonium_v1_ReportReply, ReportReply__Output as _harmonium_v1_ReportReply__Output } from '../../harmonium/v1/ReportReply';
import type { ResultPart as _harmonium_v1_ResultPart, ResultPart__Output as _harmonium_v1_ResultPart__Output } from '../../harmonium/v1/ResultPart';
import type { StatePart as _harmonium_v1_StatePart, StatePart__Output as _harmonium_v1_StatePart__Output } from '../../harmonium/v1/StatePart';
import type { StatusReply as _harmonium_v1_StatusReply, StatusReply__Output as _harmonium_v1_StatusReply__Output } from '../../harmonium/v1/StatusReply';
import type { StatusRequest as _harmonium_v1_StatusRequest, StatusRequest__Output as _harmonium_v1_StatusRequest__Output } from '../../harmonium/v1/StatusRequest';
import type { SubmitJobRequest as _harmonium_v1_SubmitJobRequest, SubmitJobRequest__Output as _harmonium_v1_SubmitJobRequest__Output } from '../../harmonium/v1/SubmitJobRequest';
import type { WorkerEvent as _harmonium_v1_WorkerEvent, WorkerEvent__Output as _harmonium_v1_WorkerEvent__Output } from '../../harmonium/v1/WorkerEvent';

export interface CoordinatorClient extends grpc.Client {
  /**
   * Cancels a job that has not ended; its workers go back to the pool.
   */
  CancelJob(argument: _harmonium_v1_CancelJobRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_harmonium_v1_JobInfo__Output>): grpc.ClientUnaryCall;
  CancelJob(argument: _harmonium_v1_CancelJobRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_harmonium_v1_JobInfo__Output>): grpc.ClientUnaryCall;
  CancelJob(argument: _harmonium_v1_CancelJobRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_harmonium_v1_JobInfo__Output>): grpc.ClientUnaryCall;
  CancelJob(argument: _harmonium_v1_CancelJobRequest, callback: grpc.requestCallback<_harmonium_v1_JobInfo__Output>): grpc.ClientUnaryCall;
  /**
   * Cancels a job that has not ended; its workers go back to the pool.
   */
  cancelJob(argument: _harmonium_v1_CancelJobRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_harmonium_v1_JobInfo__Output>): grpc.ClientUnaryCall;
  cancelJob(argument: _harmonium_v1_CancelJobRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_harmonium_v1_JobInfo__Output>): grpc.ClientUnaryCall;
  cancelJob(argument: _harmonium_v1_CancelJobRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_harmonium_v1_JobInfo__Output>): grpc.ClientUnaryCall;
  cancelJob(argument: _harmonium_v1_CancelJobRequest, callback: grpc.requestCallback<_harmonium_v1_JobInfo__Output>): grpc.ClientUnaryCall;
  
  /**
   * A worker hit an error that no re-forming can mend (diverged replicas, bad data): the job fails.
   */
  Fail(argument: _harmonium_v1_FailureReport, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_harmonium_v1_Ack__Output>): grpc.ClientUnaryCall;
  Fail(argument: _harmonium_v1_FailureReport, metadata: grpc.Metadata, callback: grpc.requestCallback<_harmonium_v1_Ack__Output>): grpc.ClientUnaryCall;
  Fail(argument: _harmonium_v1_FailureReport, options: grpc.CallOptions, callback: grpc.requestCallback<_harmonium_v1_Ack__Output>): grpc.ClientUnaryCall;
  Fail(argument: _harmonium_v1_FailureReport, callback: grpc.requestCallback<_harmonium_v1_Ack__Output>): grpc.ClientUnaryCall;
  /**
   * A worker hit an error that no re-forming can mend (diverged replicas, bad data): the job fails.
   */
  fail(argument: _harmonium_v1_FailureReport, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_harmonium_v1_Ack__Output>): grpc.ClientUnaryCall;
  fail(argument: _harmonium_v1_FailureReport, metadata: grpc.Metadata, callback: grpc.requestCallback<_harmonium_v1_Ack__Output>): grpc.ClientUnaryCall;
  fail(argument: _harmonium_v1_FailureReport, options: grpc.CallOptions, callback: grpc.requestCallback<_harmonium_v1_Ack__Output>): grpc.ClientUnaryCall;
  fail(argument: _harmonium_v1_FailureReport, callback: grpc.requestCallback<_harmonium_v1_Ack__Output>): grpc.ClientUnaryCall;
  
  /**
   * The state a resumed job starts from (the last checkpoint), for one rank.
   */
  FetchState(argument: _harmonium_v1_FetchStateRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_harmonium_v1_StatePart__Output>;
  FetchState(argument: _harmonium_v1_FetchStateRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_harmonium_v1_StatePart__Output>;
  /**
   * The state a resumed job starts from (the last checkpoint), for one rank.
   */
  fetchState(argument: _harmonium_v1_FetchStateRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_harmonium_v1_StatePart__Output>;
  fetchState(argument: _harmonium_v1_FetchStateRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_harmonium_v1_StatePart__Output>;
  
  /**
   * Rank 0's results after training: summary and pictures; the coordinator writes them.
   */
  Finish(metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_harmonium_v1_Ack__Output>): grpc.ClientWritableStream<_harmonium_v1_ResultPart>;
  Finish(metadata: grpc.Metadata, callback: grpc.requestCallback<_harmonium_v1_Ack__Output>): grpc.ClientWritableStream<_harmonium_v1_ResultPart>;
  Finish(options: grpc.CallOptions, callback: grpc.requestCallback<_harmonium_v1_Ack__Output>): grpc.ClientWritableStream<_harmonium_v1_ResultPart>;
  Finish(callback: grpc.requestCallback<_harmonium_v1_Ack__Output>): grpc.ClientWritableStream<_harmonium_v1_ResultPart>;
  /**
   * Rank 0's results after training: summary and pictures; the coordinator writes them.
   */
  finish(metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_harmonium_v1_Ack__Output>): grpc.ClientWritableStream<_harmonium_v1_ResultPart>;
  finish(metadata: grpc.Metadata, callback: grpc.requestCallback<_harmonium_v1_Ack__Output>): grpc.ClientWritableStream<_harmonium_v1_ResultPart>;
  finish(options: grpc.CallOptions, callback: grpc.requestCallback<_harmonium_v1_Ack__Output>): grpc.ClientWritableStream<_harmonium_v1_ResultPart>;
  finish(callback: grpc.requestCallback<_harmonium_v1_Ack__Output>): grpc.ClientWritableStream<_harmonium_v1_ResultPart>;
  
  /**
   * A member left its generation (drained, broken group, finished training, leaving).
   */
  GenerationDone(argument: _harmonium_v1_GenerationReport, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_harmonium_v1_Ack__Output>): grpc.ClientUnaryCall;
  GenerationDone(argument: _harmonium_v1_GenerationReport, metadata: grpc.Metadata, callback: grpc.requestCallback<_harmonium_v1_Ack__Output>): grpc.ClientUnaryCall;
  GenerationDone(argument: _harmonium_v1_GenerationReport, options: grpc.CallOptions, callback: grpc.requestCallback<_harmonium_v1_Ack__Output>): grpc.ClientUnaryCall;
  GenerationDone(argument: _harmonium_v1_GenerationReport, callback: grpc.requestCallback<_harmonium_v1_Ack__Output>): grpc.ClientUnaryCall;
  /**
   * A member left its generation (drained, broken group, finished training, leaving).
   */
  generationDone(argument: _harmonium_v1_GenerationReport, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_harmonium_v1_Ack__Output>): grpc.ClientUnaryCall;
  generationDone(argument: _harmonium_v1_GenerationReport, metadata: grpc.Metadata, callback: grpc.requestCallback<_harmonium_v1_Ack__Output>): grpc.ClientUnaryCall;
  generationDone(argument: _harmonium_v1_GenerationReport, options: grpc.CallOptions, callback: grpc.requestCallback<_harmonium_v1_Ack__Output>): grpc.ClientUnaryCall;
  generationDone(argument: _harmonium_v1_GenerationReport, callback: grpc.requestCallback<_harmonium_v1_Ack__Output>): grpc.ClientUnaryCall;
  
  /**
   * Every job this coordinator knows (queued, running, ended) and every worker of its pool.
   */
  GetStatus(argument: _harmonium_v1_StatusRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_harmonium_v1_StatusReply__Output>): grpc.ClientUnaryCall;
  GetStatus(argument: _harmonium_v1_StatusRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_harmonium_v1_StatusReply__Output>): grpc.ClientUnaryCall;
  GetStatus(argument: _harmonium_v1_StatusRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_harmonium_v1_StatusReply__Output>): grpc.ClientUnaryCall;
  GetStatus(argument: _harmonium_v1_StatusRequest, callback: grpc.requestCallback<_harmonium_v1_StatusReply__Output>): grpc.ClientUnaryCall;
  /**
   * Every job this coordinator knows (queued, running, ended) and every worker of its pool.
   */
  getStatus(argument: _harmonium_v1_StatusRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_harmonium_v1_StatusReply__Output>): grpc.ClientUnaryCall;
  getStatus(argument: _harmonium_v1_StatusRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_harmonium_v1_StatusReply__Output>): grpc.ClientUnaryCall;
  getStatus(argument: _harmonium_v1_StatusRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_harmonium_v1_StatusReply__Output>): grpc.ClientUnaryCall;
  getStatus(argument: _harmonium_v1_StatusRequest, callback: grpc.requestCallback<_harmonium_v1_StatusReply__Output>): grpc.ClientUnaryCall;
  
  /**
   * Liveness, with the worker's last completed step; the reply tells the worker to stop.
   */
  Heartbeat(argument: _harmonium_v1_HeartbeatRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_harmonium_v1_HeartbeatReply__Output>): grpc.ClientUnaryCall;
  Heartbeat(argument: _harmonium_v1_HeartbeatRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_harmonium_v1_HeartbeatReply__Output>): grpc.ClientUnaryCall;
  Heartbeat(argument: _harmonium_v1_HeartbeatRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_harmonium_v1_HeartbeatReply__Output>): grpc.ClientUnaryCall;
  Heartbeat(argument: _harmonium_v1_HeartbeatRequest, callback: grpc.requestCallback<_harmonium_v1_HeartbeatReply__Output>): grpc.ClientUnaryCall;
  /**
   * Liveness, with the worker's last completed step; the reply tells the worker to stop.
   */
  heartbeat(argument: _harmonium_v1_HeartbeatRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_harmonium_v1_HeartbeatReply__Output>): grpc.ClientUnaryCall;
  heartbeat(argument: _harmonium_v1_HeartbeatRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_harmonium_v1_HeartbeatReply__Output>): grpc.ClientUnaryCall;
  heartbeat(argument: _harmonium_v1_HeartbeatRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_harmonium_v1_HeartbeatReply__Output>): grpc.ClientUnaryCall;
  heartbeat(argument: _harmonium_v1_HeartbeatRequest, callback: grpc.requestCallback<_harmonium_v1_HeartbeatReply__Output>): grpc.ClientUnaryCall;
  
  /**
   * A worker joins. The call stays open for the worker's lifetime and carries the coordinator's
   * events to it; the coordinator takes the end of the call as the worker leaving.
   */
  Join(argument: _harmonium_v1_JoinRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_harmonium_v1_WorkerEvent__Output>;
  Join(argument: _harmonium_v1_JoinRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_harmonium_v1_WorkerEvent__Output>;
  /**
   * A worker joins. The call stays open for the worker's lifetime and carries the coordinator's
   * events to it; the coordinator takes the end of the call as the worker leaving.
   */
  join(argument: _harmonium_v1_JoinRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_harmonium_v1_WorkerEvent__Output>;
  join(argument: _harmonium_v1_JoinRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_harmonium_v1_WorkerEvent__Output>;
  
  /**
   * The worker is going away for good (SIGTERM): not a failure; its job re-forms without it.
   */
  Leave(argument: _harmonium_v1_LeaveRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_harmonium_v1_Ack__Output>): grpc.ClientUnaryCall;
  Leave(argument: _harmonium_v1_LeaveRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_harmonium_v1_Ack__Output>): grpc.ClientUnaryCall;
  Leave(argument: _harmonium_v1_LeaveRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_harmonium_v1_Ack__Output>): grpc.ClientUnaryCall;
  Leave(argument: _harmonium_v1_LeaveRequest, callback: grpc.requestCallback<_harmonium_v1_Ack__Output>): grpc.ClientUnaryCall;
  /**
   * The worker is going away for good (SIGTERM): not a failure; its job re-forms without it.
   */
  leave(argument: _harmonium_v1_LeaveRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_harmonium_v1_Ack__Output>): grpc.ClientUnaryCall;
  leave(argument: _harmonium_v1_LeaveRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_harmonium_v1_Ack__Output>): grpc.ClientUnaryCall;
  leave(argument: _harmonium_v1_LeaveRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_harmonium_v1_Ack__Output>): grpc.ClientUnaryCall;
  leave(argument: _harmonium_v1_LeaveRequest, callback: grpc.requestCallback<_harmonium_v1_Ack__Output>): grpc.ClientUnaryCall;
  
  /**
   * Progress of one rank; rank 0 also sends the metrics.jsonl records of the job.
   */
  Report(argument: _harmonium_v1_ProgressReport, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_harmonium_v1_ReportReply__Output>): grpc.ClientUnaryCall;
  Report(argument: _harmonium_v1_ProgressReport, metadata: grpc.Metadata, callback: grpc.requestCallback<_harmonium_v1_ReportReply__Output>): grpc.ClientUnaryCall;
  Report(argument: _harmonium_v1_ProgressReport, options: grpc.CallOptions, callback: grpc.requestCallback<_harmonium_v1_ReportReply__Output>): grpc.ClientUnaryCall;
  Report(argument: _harmonium_v1_ProgressReport, callback: grpc.requestCallback<_harmonium_v1_ReportReply__Output>): grpc.ClientUnaryCall;
  /**
   * Progress of one rank; rank 0 also sends the metrics.jsonl records of the job.
   */
  report(argument: _harmonium_v1_ProgressReport, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_harmonium_v1_ReportReply__Output>): grpc.ClientUnaryCall;
  report(argument: _harmonium_v1_ProgressReport, metadata: grpc.Metadata, callback: grpc.requestCallback<_harmonium_v1_ReportReply__Output>): grpc.ClientUnaryCall;
  report(argument: _harmonium_v1_ProgressReport, options: grpc.CallOptions, callback: grpc.requestCallback<_harmonium_v1_ReportReply__Output>): grpc.ClientUnaryCall;
  report(argument: _harmonium_v1_ProgressReport, callback: grpc.requestCallback<_harmonium_v1_ReportReply__Output>): grpc.ClientUnaryCall;
  
  /**
   * Rank 0's state at a checkpoint step; the coordinator writes the checkpoint.
   */
  SaveState(metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_harmonium_v1_Ack__Output>): grpc.ClientWritableStream<_harmonium_v1_StatePart>;
  SaveState(metadata: grpc.Metadata, callback: grpc.requestCallback<_harmonium_v1_Ack__Output>): grpc.ClientWritableStream<_harmonium_v1_StatePart>;
  SaveState(options: grpc.CallOptions, callback: grpc.requestCallback<_harmonium_v1_Ack__Output>): grpc.ClientWritableStream<_harmonium_v1_StatePart>;
  SaveState(callback: grpc.requestCallback<_harmonium_v1_Ack__Output>): grpc.ClientWritableStream<_harmonium_v1_StatePart>;
  /**
   * Rank 0's state at a checkpoint step; the coordinator writes the checkpoint.
   */
  saveState(metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_harmonium_v1_Ack__Output>): grpc.ClientWritableStream<_harmonium_v1_StatePart>;
  saveState(metadata: grpc.Metadata, callback: grpc.requestCallback<_harmonium_v1_Ack__Output>): grpc.ClientWritableStream<_harmonium_v1_StatePart>;
  saveState(options: grpc.CallOptions, callback: grpc.requestCallback<_harmonium_v1_Ack__Output>): grpc.ClientWritableStream<_harmonium_v1_StatePart>;
  saveState(callback: grpc.requestCallback<_harmonium_v1_Ack__Output>): grpc.ClientWritableStream<_harmonium_v1_StatePart>;
  
  /**
   * Queues a job (the options of a job file as JSON) and answers once it is recorded.
   */
  SubmitJob(argument: _harmonium_v1_SubmitJobRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_harmonium_v1_JobInfo__Output>): grpc.ClientUnaryCall;
  SubmitJob(argument: _harmonium_v1_SubmitJobRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_harmonium_v1_JobInfo__Output>): grpc.ClientUnaryCall;
  SubmitJob(argument: _harmonium_v1_SubmitJobRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_harmonium_v1_JobInfo__Output>): grpc.ClientUnaryCall;
  SubmitJob(argument: _harmonium_v1_SubmitJobRequest, callback: grpc.requestCallback<_harmonium_v1_JobInfo__Output>): grpc.ClientUnaryCall;
  /**
   * Queues a job (the options of a job file as JSON) and answers once it is recorded.
   */
  submitJob(argument: _harmonium_v1_SubmitJobRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_harmonium_v1_JobInfo__Output>): grpc.ClientUnaryCall;
  submitJob(argument: _harmonium_v1_SubmitJobRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_harmonium_v1_JobInfo__Output>): grpc.ClientUnaryCall;
  submitJob(argument: _harmonium_v1_SubmitJobRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_harmonium_v1_JobInfo__Output>): grpc.ClientUnaryCall;
  submitJob(argument: _harmonium_v1_SubmitJobRequest, callback: grpc.requestCallback<_harmonium_v1_JobInfo__Output>): grpc.ClientUnaryCall;
  
}

export interface CoordinatorHandlers extends grpc.UntypedServiceImplementation {
  /**
   * Cancels a job that has not ended; its workers go back to the pool.
   */
  CancelJob: grpc.handleUnaryCall<_harmonium_v1_CancelJobRequest__Output, _harmonium_v1_JobInfo>;
  
  /**
   * A worker hit an error that no re-forming can mend (diverged replicas, bad data): the job fails.
   */
  Fail: grpc.handleUnaryCall<_harmonium_v1_FailureReport__Output, _harmonium_v1_Ack>;
  
  /**
   * The state a resumed job starts from (the last checkpoint), for one rank.
   */
  FetchState: grpc.handleServerStreamingCall<_harmonium_v1_FetchStateRequest__Output, _harmonium_v1_StatePart>;
  
  /**
   * Rank 0's results after training: summary and pictures; the coordinator writes them.
   */
  Finish: grpc.handleClientStreamingCall<_harmonium_v1_ResultPart__Output, _harmonium_v1_Ack>;
  
  /**
   * A member left its generation (drained, broken group, finished training, leaving).
   */
  GenerationDone: grpc.handleUnaryCall<_harmonium_v1_GenerationReport__Output, _harmonium_v1_Ack>;
  
  /**
   * Every job this coordinator knows (queued, running, ended) and every worker of its pool.
   */
  GetStatus: grpc.handleUnaryCall<_harmonium_v1_StatusRequest__Output, _harmonium_v1_StatusReply>;
  
  /**
   * Liveness, with the worker's last completed step; the reply tells the worker to stop.
   */
  Heartbeat: grpc.handleUnaryCall<_harmonium_v1_HeartbeatRequest__Output, _harmonium_v1_HeartbeatReply>;
  
  /**
   * A worker joins. The call stays open for the worker's lifetime and carries the coordinator's
   * events to it; the coordinator takes the end of the call as the worker leaving.
   */
  Join: grpc.handleServerStreamingCall<_harmonium_v1_JoinRequest__Output, _harmonium_v1_WorkerEvent>;
  
  /**
   * The worker is going away for good (SIGTERM): not a failure; its job re-forms without it.
   */
  Leave: grpc.handleUnaryCall<_harmonium_v1_LeaveRequest__Output, _harmonium_v1_Ack>;
  
  /**
   * Progress of one rank; rank 0 also sends the metrics.jsonl records of the job.
   */
  Report: grpc.handleUnaryCall<_harmonium_v1_ProgressReport__Output, _harmonium_v1_ReportReply>;
  
  /**
   * Rank 0's state at a checkpoint step; the coordinator writes the checkpoint.
   */
  SaveState: grpc.handleClientStreamingCall<_harmonium_v1_StatePart__Output, _harmonium_v1_Ack>;
  
  /**
   * Queues a job (the options of a job file as JSON) and answers once it is recorded.
   */
  SubmitJob: grpc.handleUnaryCall<_harmonium_v1_SubmitJobRequest__Output, _harmonium_v1_JobInfo>;
  
}

export interface CoordinatorDefinition extends grpc.ServiceDefinition {
  CancelJob: MethodDefinition<_harmonium_v1_CancelJobRequest, _harmonium_v1_JobInfo, _harmonium_v1_CancelJobRequest__Output, _harmonium_v1_JobInfo__Output>
  Fail: MethodDefinition<_harmonium_v1_FailureReport, _harmonium_v1_Ack, _harmonium_v1_FailureReport__Output, _harmonium_v1_Ack__Output>
  FetchState: MethodDefinition<_harmonium_v1_FetchStateRequest, _harmonium_v1_StatePart, _harmonium_v1_FetchStateRequest__Output, _harmonium_v1_StatePart__Output>
  Finish: MethodDefinition<_harmonium_v1_ResultPart, _harmonium_v1_Ack, _harmonium_v1_ResultPart__Output, _harmonium_v1_Ack__Output>
  GenerationDone: MethodDefinition<_harmonium_v1_GenerationReport, _harmonium_v1_Ack, _harmonium_v1_GenerationReport__Output, _harmonium_v1_Ack__Output>
  GetStatus: MethodDefinition<_harmonium_v1_StatusRequest, _harmonium_v1_StatusReply, _harmonium_v1_StatusRequest__Output, _harmonium_v1_StatusReply__Output>
  Heartbeat: MethodDefinition<_harmonium_v1_HeartbeatRequest, _harmonium_v1_HeartbeatReply, _harmonium_v1_HeartbeatRequest__Output, _harmonium_v1_HeartbeatReply__Output>
  Join: MethodDefinition<_harmonium_v1_JoinRequest, _harmonium_v1_WorkerEvent, _harmonium_v1_JoinRequest__Output, _harmonium_v1_WorkerEvent__Output>
  Leave: MethodDefinition<_harmonium_v1_LeaveRequest, _harmonium_v1_Ack, _harmonium_v1_LeaveRequest__Output, _harmonium_v1_Ack__Output>
  Report: MethodDefinition<_harmonium_v1_ProgressReport, _harmonium_v1_ReportReply, _harmonium_v1_ProgressReport__Output, _harmonium_v1_ReportReply__Output>
  SaveState: MethodDefinition<_harmonium_v1_StatePart, _harmonium_v1_Ack, _harmonium_v1_StatePart__Output, _harmonium_v1_Ack__Output>
  SubmitJob: MethodDefinition<_harmonium_v1_SubmitJobRequest, _harmonium_v1_JobInfo, _harmonium_v1_SubmitJobRequest__Output, _harmonium_v1_JobInfo__Output>
}
