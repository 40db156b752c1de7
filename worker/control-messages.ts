/** The messages between a worker's training thread and its control thread (control-thread.ts). */
import type { CredentialsData } from '../core/security/cluster-credentials.js';
import type { WorkerEvent__Output } from '../proto/coordinator-service.js';
import type { JoinDetails } from './coordinator-client.js';

/** What the control thread starts with. */
export interface ControlData {
  readonly coordinator: string;
  readonly details: JoinDetails;
  /** How it calls the coordinator (TLS, token), and the worker's key. */
  readonly credentials: CredentialsData;
  readonly workerKey: string;
  /** One float64: the worker's last committed step, written by the training thread. */
  readonly step: SharedArrayBuffer;
  readonly idleIntervalMs: number;
  /** Silence after which the coordinator counts as gone. */
  readonly lostAfterMs: number;
}

/** Training thread -> control thread. */
export type ToControl =
  | {
      readonly type: 'job';
      readonly jobId: string;
      readonly generation: number;
      readonly rank: number;
      readonly intervalMs: number;
    }
  | { readonly type: 'close' };

/** Control thread -> training thread. */
export type FromControl =
  | { readonly type: 'event'; readonly event: WorkerEvent__Output }
  | {
      readonly type: 'heartbeat';
      /** The job the heartbeat was sent for ('' when idle). */
      readonly jobId: string;
      readonly stop: boolean;
      readonly reason: string;
      readonly unknown: boolean;
      readonly recordedStep: number;
    }
  | { readonly type: 'stream-ended'; readonly message: string }
  | { readonly type: 'lost'; readonly message: string };
