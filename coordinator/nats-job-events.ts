/**
 * Job events on NATS: `harmonium.jobs.<job id>.state` and `harmonium.jobs.<job id>.progress`, JSON
 * bodies ({@link JobEvent}). Subscribe to `harmonium.jobs.>` for everything. Control stays with
 * the coordinator's gRPC service; tensors never travel here.
 */
import { natsAccess, natsConnectionOptions, type NatsAccess } from '../core/control-plane/nats-access.js';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { ClusterError } from '../core/errors.js';
import type { JobEvent, JobEventSink } from './job-events.js';

/** Prefix of every subject Harmonium publishes job events on. */
export const JOB_EVENTS_SUBJECT = 'harmonium.jobs';
/** Deadline to reach the NATS server at start-up. */
const CONNECT_TIMEOUT_MS = 5000;

export class NatsJobEvents implements JobEventSink {
  private readonly nc: NatsConnection;
  private readonly log: (line: string) => void;
  private warned = false;

  private constructor(nc: NatsConnection, log: (line: string) => void) {
    this.nc = nc;
    this.log = log;
  }

  /** Connects to `servers` (e.g. nats://127.0.0.1:4222); a ClusterError naming them when it cannot. */
  static async connect(access: string | NatsAccess, log: (line: string) => void): Promise<NatsJobEvents> {
    const { servers } = natsAccess(access);
    const options = natsConnectionOptions(natsAccess(access));
    try {
      const nc = await connect({
        ...options,
        name: 'harmonium-coordinator',
        timeout: CONNECT_TIMEOUT_MS,
        maxReconnectAttempts: -1,
      });
      return new NatsJobEvents(nc, log);
    } catch (err) {
      throw new ClusterError(
        'RPC_FAILED',
        `cannot connect to NATS at ${servers}: ${(err as Error).message}`,
        {
          cause: err,
        },
      );
    }
  }

  publish(event: JobEvent): void {
    try {
      this.nc.publish(`${JOB_EVENTS_SUBJECT}.${event.job}.${event.kind}`, JSON.stringify(event));
    } catch (err) {
      // Events are for watchers: a closed connection must not fail the job, but say so once.
      if (!this.warned) this.log(`job events: cannot publish to NATS: ${(err as Error).message}`);
      this.warned = true;
    }
  }

  async close(): Promise<void> {
    if (this.nc.isClosed()) return;
    await this.nc.drain();
  }
}
