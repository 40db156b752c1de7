/**
 * A worker's calls to the coordinator, each with a deadline; failures become ClusterErrors that
 * name the coordinator's address and the call.
 */
import {
  InterceptingCall,
  Metadata,
  status as Status,
  type ClientReadableStream,
  type ClientWritableStream,
  type Interceptor,
  type ServiceError,
} from '@grpc/grpc-js';
import { AUTHORIZATION_KEY } from '../core/security/bearer-token.js';
import { ClusterCredentials } from '../core/security/cluster-credentials.js';
import type { StepLogEntry } from '../core/elastic/step-log.js';
import type { HarmoniumError } from '../core/errors.js';
import { ClusterError, type ErrorCode } from '../core/errors.js';
import type { CheckpointData } from '../core/train/checkpoint.js';
import {
  coordinatorPackage,
  GENERATION_KEY,
  JOB_ID_KEY,
  WORKER_ID_KEY,
  WORKER_KEY_KEY,
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
  /** Where it stands when it joins again: job ('' idle), generation, rank, committed steps. */
  readonly placement?: { jobId: string; generation: number; rank: number; step: number };
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
  /** Rank 0: committed steps' records the coordinator does not hold yet. */
  readonly log: readonly StepLogEntry[];
  /** Rank 0: pictures made since its last report, for the job page. */
  readonly pictures?: readonly { readonly name: string; readonly data: Uint8Array }[];
}

/** A member's GenerationDone. */
export interface GenerationDoneDetails {
  readonly jobId: string;
  readonly generation: number;
  readonly reason: 'drained' | 'broken' | 'finished' | 'leaving';
  readonly step: number;
  readonly inProgress: boolean;
  readonly code?: string;
  readonly message?: string;
  readonly peer?: number;
  readonly totals?: string;
}

function deadline(ms: number): Date {
  return new Date(Date.now() + ms);
}

/** The message of a gRPC error, without grpc-js's "N STATUS: " prefix. */
function detailsOf(err: ServiceError): string {
  return err.details || err.message;
}

/** First pause before a call the coordinator could not take is tried again, doubled up to the next. */
const RETRY_FIRST_MS = 100;
/**
 * Short, because these calls are how a new leader hears where a job stands: with 2 s a restarted
 * coordinator had the records 1.5 s after it led (bench/README.md, bench:control).
 */
const RETRY_MAX_MS = 1000;

/**
 * Whether `err` may pass once a coordinator is back: it was unreachable, did not answer in time,
 * or (a coordinator that took over) does not know this worker until its Join stream is back.
 */
function transient(err: unknown): boolean {
  if (!(err instanceof ClusterError)) return false;
  if (err.code === 'WORKER_LOST') return true;
  if (err.code === 'UNAUTHENTICATED' || err.code === 'PERMISSION_DENIED') return false;
  const grpcCode = (err.cause as Partial<ServiceError> | undefined)?.code;
  return (
    err.code === 'RPC_FAILED' && (grpcCode === Status.UNAVAILABLE || grpcCode === Status.DEADLINE_EXCEEDED)
  );
}

/**
 * Calls to a coordinator, or to the first of a list (`host:port,host:port`) that answers: the
 * coordinators sharing one store, of which one leads and the others refuse (NOT_LEADER). A call
 * that finds one out of reach or refusing moves on to the next.
 */
export class CoordinatorClient {
  /** As given: one address, or a comma-separated list. */
  readonly address: string;
  private readonly addresses: readonly string[];
  private readonly clients: readonly GrpcCoordinatorClient[];
  private at = 0;
  private workerId = '';
  private workerKey = '';
  private patienceMs = 0;

  /** `credentials`: TLS for the channel and the token every call carries (default: plaintext, none). */
  constructor(
    address: string,
    private readonly credentials: ClusterCredentials = ClusterCredentials.INSECURE,
  ) {
    this.address = address;
    this.addresses = address.split(',').filter((a) => a !== '');
    const Ctor = coordinatorPackage().Coordinator;
    this.clients = this.addresses.map((a) => this.connect(Ctor, a));
  }

  /** The coordinator calls go to now. */
  get current(): string {
    return this.addresses[this.at]!;
  }

  /** Moves on to the next coordinator of the list (the current one is out of reach or refuses). */
  rotate(): void {
    this.at = (this.at + 1) % this.clients.length;
  }

  private get client(): GrpcCoordinatorClient {
    return this.clients[this.at]!;
  }

  private connect(
    Ctor: ReturnType<typeof coordinatorPackage>['Coordinator'],
    address: string,
  ): GrpcCoordinatorClient {
    // Every call carries the token and the worker's key, whatever its kind.
    const stamp: Interceptor = (options, nextCall) =>
      new InterceptingCall(nextCall(options), {
        start: (metadata, listener, next) => {
          if (this.credentials.token !== null)
            metadata.set(AUTHORIZATION_KEY, `Bearer ${this.credentials.token}`);
          if (this.workerKey !== '') metadata.set(WORKER_KEY_KEY, this.workerKey);
          next(metadata, listener);
        },
      });
    return new Ctor(address, this.credentials.channelCredentials(), {
      ...this.credentials.channelOptions(address),
      interceptors: [stamp],
      'grpc.max_receive_message_length': 8 << 20,
      // Generous, as on the coordinator's side: evaluation may block this process for a while.
      'grpc.keepalive_time_ms': 30_000,
      'grpc.keepalive_timeout_ms': 30_000,
      'grpc.keepalive_permit_without_calls': 1,
    });
  }

  /** The coordinator's own error code (details "[CODE] ...") where it sent one, else RPC_FAILED. */
  private error(call: string, err: ServiceError): HarmoniumError {
    const details = detailsOf(err);
    const code = /^\[([A-Z_]+)\] /.exec(details)?.[1];
    const hint =
      err.code === Status.UNAVAILABLE && this.credentials.tls === null && !code
        ? ' (a coordinator that requires TLS drops plaintext connections: give --tls-dir)'
        : '';
    const message = `coordinator ${this.current}: ${call} failed: ${details}${hint}`;
    if (
      code === 'FENCED' ||
      code === 'JOB_FAILED' ||
      code === 'JOB_CANCELLED' ||
      code === 'WORKER_LOST' ||
      code === 'UNAUTHENTICATED' ||
      code === 'PERMISSION_DENIED'
    ) {
      return new ClusterError(code as ErrorCode, message, { cause: err });
    }
    return new ClusterError('RPC_FAILED', message, { cause: err });
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

  private metadata(jobId: string, generation = 0): Metadata {
    const md = new Metadata();
    md.set(WORKER_ID_KEY, this.workerId);
    md.set(JOB_ID_KEY, jobId);
    md.set(GENERATION_KEY, String(generation));
    return md;
  }

  /**
   * Joins; `onEvent` receives the coordinator's events, `onEnd` the end of the stream (with the
   * error, if it broke). The stream has no deadline: it lives as long as the worker.
   */
  join(
    details: JoinDetails,
    onEvent: (event: WorkerEvent__Output) => void,
    onEnd: (err: HarmoniumError | null) => void,
  ): () => void {
    this.workerId = details.workerId;
    const { placement, ...worker } = details;
    const call = this.client.Join({ ...worker, ...placement });
    let ended = false;
    const end = (err: HarmoniumError | null): void => {
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

  /**
   * Sets the worker id calls are made as, and the key that proves it (the control thread and the
   * training thread each have a client; both show the same key).
   */
  as(workerId: string, workerKey = ''): this {
    this.workerId = workerId;
    this.workerKey = workerKey;
    return this;
  }

  /**
   * A worker's calls about its job (reports, generation ends, state, results) are tried again for
   * up to `ms` while the coordinator is out of reach, so that a coordinator restarted or replaced
   * meanwhile receives them; 0 (the default): no second try.
   */
  patient(ms: number): this {
    this.patienceMs = ms;
    return this;
  }

  /**
   * Tries `attempt`, on every coordinator of the list in turn while they are out of reach or
   * refuse, for up to the patience (and at least once on each).
   */
  private async retrying<T>(attempt: () => Promise<T>): Promise<T> {
    let since: number | null = null;
    let pause = RETRY_FIRST_MS;
    let tried = 0;
    for (;;) {
      try {
        return await attempt();
      } catch (err) {
        since ??= Date.now();
        tried++;
        if (!transient(err)) throw err;
        const roundDone = tried >= this.clients.length;
        if (roundDone && Date.now() - since + pause > this.patienceMs) throw err;
        this.rotate();
        // A whole round refused: wait before the next (a standby is taking over).
        if (tried % this.clients.length === 0) {
          await new Promise((r) => setTimeout(r, pause));
          pause = Math.min(RETRY_MAX_MS, pause * 2);
        }
      }
    }
  }

  heartbeat(
    jobId: string,
    generation: number,
    step: number,
    timeoutMs: number,
  ): Promise<{ stop: boolean; reason: string; unknown: boolean; recordedStep: number; joinAgain: boolean }> {
    return this.unary(
      'Heartbeat',
      (o, cb) => this.client.Heartbeat({ workerId: this.workerId, jobId, generation, step }, o, cb),
      timeoutMs,
    );
  }

  /** Resolves with the committed steps whose records the coordinator holds. */
  async report(d: ReportDetails): Promise<number> {
    const reply = await this.retrying(() => this.reportOnce(d));
    return reply.recordedStep;
  }

  private reportOnce(d: ReportDetails): Promise<{ recordedStep: number }> {
    return this.unary<{ recordedStep: number }>('Report', (o, cb) =>
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
          logJson: d.log.length > 0 ? JSON.stringify(d.log) : '',
          pictures: (d.pictures ?? []).map((p) => ({ name: p.name, png: p.data })),
        },
        o,
        cb,
      ),
    );
  }

  async generationDone(d: GenerationDoneDetails): Promise<void> {
    await this.retrying(() => this.generationDoneOnce(d));
  }

  private async generationDoneOnce(d: GenerationDoneDetails): Promise<void> {
    await this.unary('GenerationDone', (o, cb) =>
      this.client.GenerationDone(
        {
          workerId: this.workerId,
          jobId: d.jobId,
          generation: d.generation,
          reason: d.reason,
          step: d.step,
          inProgress: d.inProgress,
          code: d.code ?? '',
          message: d.message ?? '',
          peer: d.peer ?? -1,
          totalsJson: d.totals ?? '',
        },
        o,
        cb,
      ),
    );
  }

  async leave(reason: string): Promise<void> {
    await this.retrying(() =>
      this.unary('Leave', (o, cb) => this.client.Leave({ workerId: this.workerId, reason }, o, cb)),
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
    await this.retrying(() =>
      this.unary('Fail', (o, cb) =>
        this.client.Fail({ workerId: this.workerId, jobId, generation, rank, code, message, peer }, o, cb),
      ),
    );
  }

  /** The checkpoint the job resumes from. */
  fetchState(jobId: string, rank: number, worldSize: number): Promise<CheckpointData> {
    return this.retrying(() => this.fetchStateOnce(jobId, rank, worldSize));
  }

  private fetchStateOnce(jobId: string, rank: number, worldSize: number): Promise<CheckpointData> {
    return new Promise((resolve, reject) => {
      const call: ClientReadableStream<never> = this.client.FetchState(
        { workerId: this.workerId, jobId, rank, worldSize },
        { deadline: deadline(TRANSFER_TIMEOUT_MS) },
      ) as ClientReadableStream<never>;
      const assembler = new StateAssembler(`coordinator ${this.current}`);
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
  saveState(jobId: string, generation: number, data: CheckpointData): Promise<void> {
    return this.retrying(() =>
      this.upload('SaveState', encodeState(data, jobId), (cb) =>
        this.client.SaveState(
          this.metadata(jobId, generation),
          { deadline: deadline(TRANSFER_TIMEOUT_MS) },
          cb,
        ),
      ),
    );
  }

  /** Sends rank 0's summary and pictures; resolves once the coordinator has written them. */
  finish(jobId: string, summaryJson: string, files: readonly ResultFile[]): Promise<void> {
    return this.retrying(() =>
      this.upload('Finish', encodeResults(summaryJson, files), (cb) =>
        this.client.Finish(this.metadata(jobId), { deadline: deadline(TRANSFER_TIMEOUT_MS) }, cb),
      ),
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

  /** Submits a job's options (job-file names, JSON); `jobId` '' lets the coordinator name it. */
  submitJob(configJson: string, workers: number, jobId = ''): Promise<JobInfo__Output> {
    return this.retrying(() =>
      this.unary('SubmitJob', (o, cb) => this.client.SubmitJob({ configJson, workers, jobId }, o, cb)),
    );
  }

  status(): Promise<StatusReply> {
    return this.retrying(() => this.unary('GetStatus', (o, cb) => this.client.GetStatus({}, o, cb)));
  }

  cancelJob(jobId: string, reason: string): Promise<JobInfo__Output> {
    return this.retrying(() =>
      this.unary('CancelJob', (o, cb) => this.client.CancelJob({ jobId, reason }, o, cb)),
    );
  }

  close(): void {
    for (const c of this.clients) c.close();
  }
}
