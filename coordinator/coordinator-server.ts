/**
 * The gRPC face of a {@link Coordinator}: each call of coordinator.proto becomes a method call on
 * it, errors become gRPC statuses whose details keep Harmonium's error code, and a timer runs its
 * control loop.
 */
import type { Metadata } from '@grpc/grpc-js';
import {
  Server,
  status as Status,
  type sendUnaryData,
  type ServerErrorResponse,
  type ServerReadableStream,
  type ServerWritableStream,
} from '@grpc/grpc-js';
import { ConfigError, HarmoniumError } from '../core/errors.js';
import type { StepLogEntry } from '../core/elastic/step-log.js';
import { ReflectionService } from '@grpc/reflection';
import { HealthImplementation } from 'grpc-health-check';
import {
  COORDINATOR_SERVICE,
  coordinatorPackageDefinition,
  coordinatorServiceDefinition,
  GENERATION_KEY,
  JOB_ID_KEY,
  WORKER_ID_KEY,
  type Ack,
  type CoordinatorHandlers,
  type JobInfo,
  type StatePart,
  type WorkerEvent,
} from '../proto/coordinator-service.js';
import { ResultAssembler } from '../proto/result-codec.js';
import { encodeState, StateAssembler } from '../proto/state-codec.js';
import { MemoryControlStore } from '../core/control-plane/memory-control-store.js';
import { ClusterCredentials } from '../core/security/cluster-credentials.js';
import { guarded, refusal, refusing, workerKeyHash } from './call-guard.js';
import type { Coordinator } from './coordinator.js';
import type { Job } from './job.js';
import { JobIntake } from './job-intake.js';

/** A running coordinator server. */
export interface CoordinatorServer {
  /** host:port it listens on. */
  readonly address: string;
  readonly port: number;
  /** What grpc.health.v1 says (a standby coordinator is NOT_SERVING, so probes route to the leader). */
  setServing(serving: boolean): void;
  /** Stops the control loop and the server (ongoing calls are cancelled). */
  close(): Promise<void>;
}

/**
 * Every call of `handlers` answered UNAVAILABLE "[NOT_LEADER] ..." while `standby()` says why
 * this coordinator does not lead, so that a worker or client with a list of coordinators tries
 * the next one.
 */
function gated(handlers: CoordinatorHandlers, standby: () => string | null): CoordinatorHandlers {
  return refusing(handlers, () => {
    const why = standby();
    return why === null ? null : refusal(Status.UNAVAILABLE, 'NOT_LEADER', why);
  });
}

function grpcCode(err: unknown): Status {
  if (err instanceof ConfigError) return Status.INVALID_ARGUMENT;
  if (!(err instanceof HarmoniumError)) return Status.INTERNAL;
  switch (err.code) {
    case 'WORKER_LOST':
      return Status.NOT_FOUND;
    case 'CHECKPOINT_INVALID':
    case 'DATA_FORMAT':
      return Status.DATA_LOSS;
    case 'JOB_FAILED':
    case 'JOB_CANCELLED':
    case 'FENCED':
      return Status.FAILED_PRECONDITION;
    case 'UNAUTHENTICATED':
      return Status.UNAUTHENTICATED;
    case 'PERMISSION_DENIED':
      return Status.PERMISSION_DENIED;
    default:
      return Status.INTERNAL;
  }
}

/** A gRPC error carrying the Harmonium code in its details, e.g. "[JOB_FAILED] ...". */
export function toServiceError(err: unknown): Partial<ServerErrorResponse> {
  const code = err instanceof HarmoniumError ? err.code : 'INTERNAL';
  const message = err instanceof Error ? err.message : String(err);
  return { code: grpcCode(err), details: `[${code}] ${message}` };
}

function metadataValue(md: Metadata, key: string): string {
  const v = md.get(key)[0];
  return typeof v === 'string' ? v : '';
}

/** The committed steps' records of a Report, checked for shape (the coordinator checks their order). */
function parseStepLog(json: string): StepLogEntry[] {
  if (json === '') return [];
  let v: unknown;
  try {
    v = JSON.parse(json);
  } catch (err) {
    throw new ConfigError('log_json', `not JSON: ${(err as Error).message}`, { cause: err });
  }
  if (!Array.isArray(v)) throw new ConfigError('log_json', 'must be an array of step records');
  for (const e of v as Array<Partial<StepLogEntry> | null>) {
    if (e === null || typeof e !== 'object' || !Number.isSafeInteger(e.step) || e.step! < 1) {
      throw new ConfigError('log_json', 'every entry needs a step >= 1');
    }
    if (e.record !== undefined && (typeof e.record !== 'object' || e.record.step !== e.step)) {
      throw new ConfigError('log_json', `step ${e.step}: its record names another step`);
    }
    if (e.samples !== undefined && (typeof e.samples !== 'object' || e.samples.step !== e.step! - 1)) {
      throw new ConfigError('log_json', `step ${e.step}: its samples line names another step`);
    }
  }
  return v as StepLogEntry[];
}

export function jobInfo(job: Job): JobInfo {
  return {
    jobId: job.id,
    state: job.state,
    model: job.config.model,
    workers: job.config.workers,
    generation: job.generation,
    step: job.step,
    totalSteps: job.totalSteps,
    loss: job.loss,
    message: job.message,
    out: job.config.out,
    submittedAtMs: job.submittedAt,
    endedAtMs: job.endedAt ?? 0,
    worldSize: job.worldSize,
    minWorkers: job.config.minWorkers,
    failures: job.failures,
    lastFailure: job.lastFailure,
  };
}

function unary<Req, Res>(fn: (req: Req) => Res | Promise<Res>) {
  return (call: { request: Req }, callback: sendUnaryData<Res>): void => {
    Promise.resolve()
      .then(() => fn(call.request))
      .then(
        (res) => callback(null, res),
        (err: unknown) => callback(toServiceError(err)),
      );
  };
}

async function writeAll(
  call: ServerWritableStream<unknown, StatePart>,
  parts: Iterable<StatePart>,
): Promise<void> {
  for (const part of parts) {
    if (call.cancelled) return;
    if (!call.write(part)) await new Promise<void>((resolve) => call.once('drain', resolve));
  }
}

/**
 * Feeds a client stream's messages to `assembler`; at its end runs `done` (which reads the
 * assembler) and answers. A bad message fails the call at the end, once, with its error.
 */
function collect<Part>(
  call: ServerReadableStream<Part, Ack>,
  assembler: { add(part: Part): void },
  callback: sendUnaryData<Ack>,
  done: () => Promise<void>,
): void {
  let failed: unknown = null;
  call.on('data', (part: Part) => {
    if (failed) return;
    try {
      assembler.add(part);
    } catch (err) {
      failed = err;
    }
  });
  call.on('end', () => {
    Promise.resolve()
      .then(() => {
        if (failed) throw failed;
        return done();
      })
      .then(
        () => callback(null, {}),
        (err: unknown) => callback(toServiceError(err)),
      );
  });
}

function handlers(coordinator: Coordinator, intake: JobIntake): CoordinatorHandlers {
  return {
    Join(call) {
      const r = call.request;
      if (r.workerId === '' || r.collectiveAddress === '') {
        call.emit(
          'error',
          Object.assign(new Error('worker_id and collective_address are required'), {
            code: Status.INVALID_ARGUMENT,
          }),
        );
        return;
      }
      const send = (event: WorkerEvent): void => {
        if (!call.cancelled && call.writable) call.write(event);
      };
      const ok = coordinator.join(
        {
          id: r.workerId,
          hostname: r.hostname,
          pid: r.pid,
          collectiveAddress: r.collectiveAddress,
          metricsAddress: r.metricsAddress,
          keyHash: workerKeyHash(call.metadata),
          ...(r.jobId !== '' || r.generation > 0
            ? { placement: { jobId: r.jobId, generation: r.generation, rank: r.rank, step: r.step } }
            : {}),
        },
        send,
      );
      if (!ok) {
        call.emit(
          'error',
          Object.assign(new Error(`[WORKER_LOST] worker id ${r.workerId} is already joined`), {
            code: Status.ALREADY_EXISTS,
          }),
        );
        return;
      }
      let left = false;
      const leave = (): void => {
        if (left) return;
        left = true;
        coordinator.leave(r.workerId, send);
      };
      call.on('cancelled', leave);
      call.on('close', leave);
      call.on('error', leave);
    },
    Heartbeat: unary((r) => coordinator.heartbeat(r.workerId, r.jobId, r.generation, r.step)),
    Report: unary((r) => ({
      recordedStep: coordinator.report({
        workerId: r.workerId,
        jobId: r.jobId,
        generation: r.generation,
        step: r.step,
        totalSteps: r.totalSteps,
        imagesSeen: r.imagesSeen,
        loss: r.loss,
        log: parseStepLog(r.logJson),
        pictures: r.pictures.map((p) => ({ name: p.name, data: Buffer.from(p.png) })),
      }),
    })),
    Fail: unary((r) => {
      coordinator.failure({
        workerId: r.workerId,
        jobId: r.jobId,
        generation: r.generation,
        code: r.code,
        message: r.message,
        peer: r.peer,
      });
      return {};
    }),
    GenerationDone: unary((r) => {
      const reasons = ['drained', 'broken', 'finished', 'leaving'] as const;
      const reason = reasons.find((x) => x === r.reason);
      if (!reason) throw new ConfigError('reason', `must be one of ${reasons.join(', ')}, got "${r.reason}"`);
      coordinator.generationDone({
        workerId: r.workerId,
        jobId: r.jobId,
        generation: r.generation,
        reason,
        step: r.step,
        inProgress: r.inProgress,
        detail: r.code ? `[${r.code}]${r.peer >= 0 ? ` peer rank ${r.peer}` : ''}: ${r.message}` : r.message,
        totals: r.totalsJson,
      });
      return {};
    }),
    Leave: unary((r) => {
      coordinator.leaveRequest(r.workerId, r.reason);
      return {};
    }),
    FetchState(call) {
      const r = call.request;
      coordinator
        .fetchState(r.workerId, r.jobId)
        .then((data) => writeAll(call, encodeState(data, r.jobId)))
        .then(
          () => call.end(),
          // A server stream ends with the status of an 'error' event; destroy() sent none, and
          // the worker waited out its 2-minute deadline.
          (err: unknown) =>
            call.emit('error', Object.assign(new Error(toServiceError(err).details), toServiceError(err))),
        );
    },
    SaveState(call, callback) {
      const workerId = metadataValue(call.metadata, WORKER_ID_KEY);
      const jobId = metadataValue(call.metadata, JOB_ID_KEY);
      const generation = Number(metadataValue(call.metadata, GENERATION_KEY));
      const assembler = new StateAssembler(`worker ${workerId}`);
      collect(call, assembler, callback, () =>
        coordinator.saveState(workerId, jobId, generation, assembler.finish().data),
      );
    },
    Finish(call, callback) {
      const workerId = metadataValue(call.metadata, WORKER_ID_KEY);
      const jobId = metadataValue(call.metadata, JOB_ID_KEY);
      const assembler = new ResultAssembler(`worker ${workerId}`);
      collect(call, assembler, callback, () => {
        const { summary, files } = assembler.finish();
        return coordinator.finish(workerId, jobId, summary, files);
      });
    },
    SubmitJob: unary(async (r) => {
      const submitted = await intake.submit(r.configJson, r.workers, r.jobId);
      if ('job' in submitted) return jobInfo(submitted.job);
      return { jobId: submitted.queued, state: 'PENDING', message: 'queued; not recorded yet' };
    }),
    GetStatus: unary(() => {
      const { jobs, workers } = coordinator.status();
      const now = Date.now();
      return {
        jobs: jobs.map(jobInfo),
        workers: workers.map((w) => ({
          workerId: w.id,
          hostname: w.hostname,
          pid: w.pid,
          collectiveAddress: w.collectiveAddress,
          jobId: w.jobId ?? '',
          rank: w.rank,
          step: w.step,
          lastHeartbeatAgeSeconds: (now - w.lastHeartbeat) / 1000,
          metricsAddress: w.metricsAddress,
        })),
      };
    }),
    CancelJob: unary((r) => jobInfo(coordinator.cancel(r.jobId, r.reason))),
  };
}

/**
 * Starts serving `coordinator` on host:port (port 0: any free port) and runs its control loop.
 * Submissions go through `intake` (default: a queue in memory, jobs under `runsDir`).
 */
export async function startCoordinatorServer(
  coordinator: Coordinator,
  opts: {
    host: string;
    port: number;
    tickMs?: number;
    runsDir?: string;
    /** Where submissions go; the caller starts it. Default: a queue in memory, started here. */
    intake?: JobIntake;
    /** Why this coordinator does not lead now (it refuses every call), null while it leads. */
    standby?: () => string | null;
    /** Mutual TLS and the token callers must show; default plaintext, no token. */
    credentials?: ClusterCredentials;
    /** Where refused calls are reported; default nowhere. */
    log?: (line: string) => void;
  },
): Promise<CoordinatorServer> {
  let intake = opts.intake;
  if (!intake) {
    intake = new JobIntake({
      coordinator,
      store: new MemoryControlStore(),
      journal: null,
      runsDir: opts.runsDir ?? 'runs',
      log: () => undefined,
    });
    intake.start();
  }
  const server = new Server({
    'grpc.max_receive_message_length': 8 << 20,
    // Generous: a peer busy in a long synchronous computation cannot answer pings; dead
    // processes are found at once by their closed connection, and live ones by heartbeats.
    'grpc.keepalive_time_ms': 30_000,
    'grpc.keepalive_timeout_ms': 30_000,
    'grpc.keepalive_permit_without_calls': 1,
  });
  const credentials = opts.credentials ?? ClusterCredentials.INSECURE;
  const all = handlers(coordinator, intake);
  const led = opts.standby ? gated(all, opts.standby) : all;
  server.addService(
    coordinatorServiceDefinition(),
    guarded(led, {
      token: credentials.token,
      keyMatches: (id, hash) => coordinator.keyMatches(id, hash),
      ...(opts.log ? { log: opts.log } : {}),
    }),
  );
  // Standard grpc.health.v1 and server reflection: grpc_health_probe, Kubernetes gRPC probes and
  // grpcurl work against the coordinator with no Harmonium code.
  const health = new HealthImplementation({ '': 'SERVING', [COORDINATOR_SERVICE]: 'SERVING' });
  health.addToServer(server);
  new ReflectionService(coordinatorPackageDefinition()).addToServer(server);
  const where = `${opts.host.includes(':') ? `[${opts.host}]` : opts.host}:${opts.port}`;
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(where, credentials.serverCredentials(), (err, p) =>
      err
        ? reject(
            new HarmoniumError('IO', `coordinator cannot listen on ${where}: ${err.message}`, { cause: err }),
          )
        : resolve(p),
    ),
  );
  // A coordinator that does not lead decides nothing, not even on its own timer.
  const timer = setInterval(() => {
    if (!opts.standby || opts.standby() === null) coordinator.tick();
  }, opts.tickMs ?? 500);
  const address = `${opts.host.includes(':') ? `[${opts.host}]` : opts.host}:${port}`;
  const setServing = (serving: boolean): void => {
    health.setStatus('', serving ? 'SERVING' : 'NOT_SERVING');
    health.setStatus(COORDINATOR_SERVICE, serving ? 'SERVING' : 'NOT_SERVING');
  };
  return {
    address,
    port,
    setServing,
    close: async () => {
      clearInterval(timer);
      setServing(false);
      await new Promise<void>((resolve) => {
        server.tryShutdown(() => resolve());
        // Join streams stay open for a worker's lifetime: do not wait for them.
        setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, 1000).unref();
      });
    },
  };
}
