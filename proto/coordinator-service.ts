/**
 * The coordinator service of proto/harmonium/v1/coordinator.proto, loaded at run time with
 * @grpc/proto-loader and typed by the interfaces generated into proto/gen (`npm run proto:gen`
 * regenerates them after a change to the .proto; they are committed).
 */
import { loadPackageDefinition, type ServiceDefinition } from '@grpc/grpc-js';
import { loadSync, type PackageDefinition } from '@grpc/proto-loader';
import { fileURLToPath } from 'node:url';
import type { ProtoGrpcType } from './gen/coordinator.js';
import type { CoordinatorHandlers } from './gen/harmonium/v1/Coordinator.js';

/** How messages are decoded; must match the `proto:gen` flags (--longs=Number --defaults --oneofs). */
const LOADER_OPTIONS = { longs: Number, defaults: true, oneofs: true, enums: String } as const;

/** Metadata keys naming the calling worker and its job on the streaming calls SaveState and Finish. */
export const WORKER_ID_KEY = 'harmonium-worker-id';
export const JOB_ID_KEY = 'harmonium-job-id';
/** Metadata key of the caller's generation on SaveState: a fenced worker's save is refused. */
export const GENERATION_KEY = 'harmonium-generation';

/**
 * Metadata key of the secret a worker process made for itself and shows on every call: the
 * coordinator binds a worker id to the key of its first Join, so that no other caller can report,
 * fail, save state or fetch it as that worker.
 */
export const WORKER_KEY_KEY = 'harmonium-worker-key';

/** The coordinator's fully qualified service name (for health checks and reflection). */
export const COORDINATOR_SERVICE = 'harmonium.v1.Coordinator';

let definition: PackageDefinition | null = null;
let loaded: ProtoGrpcType | null = null;

/** coordinator.proto as proto-loader reads it (loaded once): what server reflection describes. */
export function coordinatorPackageDefinition(): PackageDefinition {
  definition ??= loadSync(
    fileURLToPath(new URL('./harmonium/v1/coordinator.proto', import.meta.url)),
    LOADER_OPTIONS,
  );
  return definition;
}

/** The harmonium.v1 package of coordinator.proto (loaded once). */
export function coordinatorPackage(): ProtoGrpcType['harmonium']['v1'] {
  loaded ??= loadPackageDefinition(coordinatorPackageDefinition()) as unknown as ProtoGrpcType;
  return loaded.harmonium.v1;
}

/** The service definition, for `server.addService`. */
export function coordinatorServiceDefinition(): ServiceDefinition<CoordinatorHandlers> {
  return coordinatorPackage().Coordinator.service as unknown as ServiceDefinition<CoordinatorHandlers>;
}

export type { CoordinatorClient, CoordinatorHandlers } from './gen/harmonium/v1/Coordinator.js';
export type { Ack } from './gen/harmonium/v1/Ack.js';
export type { Assignment__Output as Assignment } from './gen/harmonium/v1/Assignment.js';
export type { JobInfo, JobInfo__Output } from './gen/harmonium/v1/JobInfo.js';
export type { WorkerEvent, WorkerEvent__Output } from './gen/harmonium/v1/WorkerEvent.js';
export type { StatePart, StatePart__Output } from './gen/harmonium/v1/StatePart.js';
export type { ResultPart, ResultPart__Output } from './gen/harmonium/v1/ResultPart.js';
export type { StatusReply } from './gen/harmonium/v1/StatusReply.js';
export type { GenerationReport } from './gen/harmonium/v1/GenerationReport.js';
export type { EvaluateTask__Output as EvaluateTask } from './gen/harmonium/v1/EvaluateTask.js';
export type { GenerationSignal__Output as GenerationSignal } from './gen/harmonium/v1/GenerationSignal.js';
export type { HeartbeatReply__Output as HeartbeatReply } from './gen/harmonium/v1/HeartbeatReply.js';
