/**
 * A worker's calls to the coordinator, each with a deadline; failures become ClusterErrors that
 * name the coordinator's address and the call.
 */
import {
  credentials,
  Metadata,
  type ClientReadableStream,
  type ClientWritableStream,
  type ServiceError,
} from '@grpc/grpc-js';
import { ClusterError } from '../core/errors.js';
import type { CheckpointData } from '../core/train/checkpoint.js';
import {
  coordinatorPackage,
  JOB_ID_KEY,
  WORKER_ID_KEY,
  type CoordinatorClient as GrpcCoordinatorClient,
  type JobInfo__Output,
  type StatusReply,
  type WorkerEvent__Output,
} from '../proto/coordinator-service.js';
import { encodeResults, type ResultFile } from '../proto/result-codec.js';
import { encodeState, StateAssembler } from '../proto/state-codec.js';

/** Deadline of a unary call. */
const CALL_TIMEOUT_MS = 10_000;
/** Deadline of a state or results transfer. */
const TRANSFER_TIMEOUT_MS = 120_000;

/** What the coordinator needs to know about a joining worker. */
export interface JoinDetails {
  readonly workerId: string;
  readonly collectiveAddress: string;
  readonly hostname: string;
  readonly pid: number;
  readonly metricsAddress: string;
}

/** A rank's progress report. */
export interface ReportDetails {
  readonly jobId: string;
  readonly generation: number;
  readonly rank: number;
  readonly step: number;
  readonly totalSteps: number;
  readonly epoch: number;
  readonly imagesSeen: number;
  readonly loss: number;
  readonly record: Readonly<Record<string, number>> | null;
}

function deadline(ms: number): Date {
  return new Date(Date.now() + ms);
}

/** The message of a gRPC error, without grpc-js's "N STATUS: " prefix. */
function detailsOf(err: ServiceError): string {
  return err.details || err.message;
}

export class CoordinatorClient {
  readonly address: string;
  private readonly client: GrpcCoordinatorClient;
  private workerId = '';

  constructor(address: string) {
    this.address = address;
    const Ctor = coordinatorPackage().Coordinator;
    this.client = new Ctor(address, credentials.createInsecure(), {
      'grpc.max_receive_message_length': 8 << 20,
      // Generous, as on the coordinator's side: evaluation may block this process for a while.
      'grpc.keepalive_time_ms': 30_000,
      'grpc.keepalive_timeout_ms': 30_000,
      'grpc.keepalive_permit_without_calls': 1,
    });
  }

  private error(call: string, err: ServiceError): ClusterError {
    return new ClusterError('RPC_FAILED', `coordinator ${this.address}: ${call} failed: ${detailsOf(err)}`, {
      cause: err,
    });
  }

  private unary<Res>(
    call: string,
    invoke: (opts: { deadline: Date }, cb: (err: ServiceError | null, res?: Res) => void) => void,
    timeoutMs = CALL_TIMEOUT_MS,
  ): Promise<Res> {
    return new Promise((resolve, reject) =>
      invoke({ deadline: deadline(timeoutMs) }, (err, res) =>
        err ? reject(this.error(call, err)) : resolve(res!),
      ),
    );
  }

  private metadata(jobId: string): Metadata {
    const md = new Metadata();
    md.set(WORKER_ID_KEY, this.workerId);
    md.set(JOB_ID_KEY, jobId);
    return md;
  }

  /**
   * Joins; `onEvent` receives the coordinator's events, `onEnd` the end of the stream (with the
   * error, if it broke). The stream has no deadline: it lives as long as the worker.
   */
  join(
    details: JoinDetails,
    onEvent: (event: WorkerEvent__Output) => void,
    onEnd: (err: ClusterError | null) => void,
  ): () => void {
    this.workerId = details.workerId;
    const call = this.client.Join(details);
    let ended = false;
    const end = (err: ClusterError | null): void => {
      if (ended) return;
      ended = true;
      onEnd(err);
    };
    call.on('data', onEvent);
    call.on('error', (err: ServiceError) => end(this.error('Join', err)));
    call.on('end', () => end(null));
    return () => {
      ended = true;
      call.cancel();
    };
  }

  heartbeat(
    jobId: string,
    generation: number,
    step: number,
    timeoutMs: number,
  ): Promise<{ stop: boolean; reason: string }> {
    return this.unary(
      'Heartbeat',
      (o, cb) => this.client.Heartbeat({ workerId: this.workerId, jobId, generation, step }, o, cb),
      timeoutMs,
    );
  }

  async report(d: ReportDetails): Promise<void> {
    await this.unary('Report', (o, cb) =>
      this.client.Report(
        {
          workerId: this.workerId,
          jobId: d.jobId,
          generation: d.generation,
          rank: d.rank,
          step: d.step,
          totalSteps: d.totalSteps,
          epoch: d.epoch,
          imagesSeen: d.imagesSeen,
          loss: d.loss,
          metricsRecordJson: d.record ? JSON.stringify(d.record) : '',
        },
        o,
        cb,
      ),
    );
  }

  async fail(
    jobId: string,
    generation: number,
    rank: number,
    code: string,
    message: string,
    peer: number,
  ): Promise<void> {
    await this.unary('Fail', (o, cb) =>
      this.client.Fail({ workerId: this.workerId, jobId, generation, rank, code, message, peer }, o, cb),
    );
  }

  /** The checkpoint the job resumes from. */
  fetchState(jobId: string, rank: number, worldSize: number): Promise<CheckpointData> {
    return new Promise((resolve, reject) => {
      const call: ClientReadableStream<never> = this.client.FetchState(
        { workerId: this.workerId, jobId, rank, worldSize },
        { deadline: deadline(TRANSFER_TIMEOUT_MS) },
      ) as ClientReadableStream<never>;
      const assembler = new StateAssembler(`coordinator ${this.address}`);
      let failed = false;
      call.on('data', (part) => {
        try {
          assembler.add(part);
        } catch (err) {
          failed = true;
          call.cancel();
          reject(err as Error);
        }
      });
      call.on('error', (err: ServiceError) => {
        if (!failed) reject(this.error('FetchState', err));
      });
      call.on('end', () => {
        if (failed) return;
        try {
          resolve(assembler.finish().data);
        } catch (err) {
          reject(err as Error);
        }
      });
    });
  }

  /** Sends rank 0's state; resolves once the coordinator has written the checkpoint. */
  saveState(jobId: string, data: CheckpointData): Promise<void> {
    return this.upload('SaveState', encodeState(data, jobId), (cb) =>
      this.client.SaveState(this.metadata(jobId), { deadline: deadline(TRANSFER_TIMEOUT_MS) }, cb),
    );
  }

  /** Sends rank 0's summary and pictures; resolves once the coordinator has written them. */
  finish(jobId: string, summaryJson: string, files: readonly ResultFile[]): Promise<void> {
    return this.upload('Finish', encodeResults(summaryJson, files), (cb) =>
      this.client.Finish(this.metadata(jobId), { deadline: deadline(TRANSFER_TIMEOUT_MS) }, cb),
    );
  }

  /** Streams `parts` on a client-streaming call, respecting back-pressure; resolves on its answer. */
  private upload<Part>(
    name: string,
    parts: Iterable<Part>,
    open: (cb: (err: ServiceError | null) => void) => ClientWritableStream<Part>,
  ): Promise<void> {
    return new Promise((resolve, reject) => {
      const call = open((err) => (err ? reject(this.error(name, err)) : resolve()));
      void (async () => {
        for (const part of parts) {
          if (!call.write(part)) await new Promise<void>((r) => call.once('drain', r));
        }
        call.end();
      })();
    });
  }

  submitJob(configJson: string, workers: number): Promise<JobInfo__Output> {
    return this.unary('SubmitJob', (o, cb) => this.client.SubmitJob({ configJson, workers }, o, cb));
  }

  status(): Promise<StatusReply> {
    return this.unary('GetStatus', (o, cb) => this.client.GetStatus({}, o, cb));
  }

  cancelJob(jobId: string, reason: string): Promise<JobInfo__Output> {
    return this.unary('CancelJob', (o, cb) => this.client.CancelJob({ jobId, reason }, o, cb));
  }

  close(): void {
    this.client.close();
  }
}
