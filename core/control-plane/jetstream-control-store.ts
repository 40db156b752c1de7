/**
 * The {@link ControlStore} on NATS JetStream (nats-server 2.9 or later; no 2.10+ feature is used):
 *
 * - KV bucket `harmonium`: one record per job under `jobs.<id>`, written with create-if-absent and
 *   revision-checked updates;
 * - stream `HARMONIUM_SUBMISSIONS` (work queue, subject `harmonium.submit`): submitted jobs,
 *   deduplicated by job id (the Nats-Msg-Id header) within {@link DEDUP_WINDOW_MS}, taken by the
 *   durable consumer `coordinator` with explicit acks, so that one the coordinator took but did not
 *   record is delivered again to the next;
 * - stream `HARMONIUM_DEAD_LETTERS` (subject `harmonium.dead`): submissions that cannot be read,
 *   each with its reason in the `Harmonium-Reason` header;
 * - stream `HARMONIUM_EVENTS` (subjects `harmonium.jobs.<id>.<kind>`): job events, which
 *   `harmonium logs` and any NATS client read from the start.
 *
 * Every request has the client's deadline (JetStream's default 5 s); while the server is away the
 * connection reconnects for ever and the consumer loop waits for it.
 */
import { natsAccess, natsConnectionOptions, type NatsAccess } from './nats-access.js';
import { connect, headers, type NatsConnection } from '@nats-io/transport-node';
import {
  AckPolicy,
  DeliverPolicy,
  DiscardPolicy,
  JetStreamApiError,
  jetstream,
  jetstreamManager,
  RetentionPolicy,
  StorageType,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
  type StreamConfig,
} from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import { ClusterError } from '../errors.js';
import type { ControlStore, QueuedSubmission, Revisioned } from './control-store.js';

export const KV_BUCKET = 'harmonium';
export const JOB_KEY_PREFIX = 'jobs.';
/** The leader lease's key in the bucket. */
export const LEASE_KEY = 'leader';
export const SUBMISSIONS_STREAM = 'HARMONIUM_SUBMISSIONS';
export const SUBMIT_SUBJECT = 'harmonium.submit';
export const DEAD_LETTER_STREAM = 'HARMONIUM_DEAD_LETTERS';
export const DEAD_LETTER_SUBJECT = 'harmonium.dead';
export const EVENTS_STREAM = 'HARMONIUM_EVENTS';
/** Prefix of every job event subject: `harmonium.jobs.<job id>.<kind>`. */
export const EVENTS_SUBJECT = 'harmonium.jobs';
/** Header of a dead letter that says why it is one. */
export const REASON_HEADER = 'Harmonium-Reason';
const CONSUMER = 'coordinator';
/** The same job id submitted twice within this window is one message on the queue. */
export const DEDUP_WINDOW_MS = 10 * 60_000;
/**
 * A submission taken and not acknowledged within this is delivered again (to the next leader when
 * the coordinator that took it died): taking one is a compile and a KV write, milliseconds.
 */
const ACK_WAIT_MS = 10_000;
/** How long job events are kept. */
const EVENTS_MAX_AGE_MS = 30 * 24 * 3600_000;
const EVENTS_MAX_BYTES = 1 << 30;
/** Deadline to reach the NATS server at start-up. */
const CONNECT_TIMEOUT_MS = 5000;
/** How long one pull for the next submission waits on the server. */
const PULL_EXPIRES_MS = 5000;
/** JetStream's error code for a write whose expected last sequence (revision) is not the last. */
const WRONG_LAST_SEQUENCE = 10071;

const ms = (n: number): number => n * 1_000_000;

/**
 * Connects to NATS (`access`: comma-separated URLs, or those with credentials and TLS); a
 * ClusterError naming the servers when it cannot.
 */
export async function connectNats(access: string | NatsAccess, name: string): Promise<NatsConnection> {
  const { servers } = natsAccess(access);
  const options = natsConnectionOptions(natsAccess(access));
  try {
    return await connect({
      ...options,
      name,
      timeout: CONNECT_TIMEOUT_MS,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
    });
  } catch (err) {
    throw new ClusterError(
      'STORE_FAILED',
      `cannot connect to NATS at ${servers}: ${(err as Error).message}`,
      {
        cause: err,
      },
    );
  }
}

/** Creates `config`'s stream, or brings an existing one to it. */
async function ensureStream(
  jsm: JetStreamManager,
  config: Partial<StreamConfig> & { name: string },
): Promise<void> {
  try {
    await jsm.streams.info(config.name);
    await jsm.streams.update(config.name, config);
  } catch (err) {
    if (!(err instanceof JetStreamApiError) || err.status !== 404) throw err;
    await jsm.streams.add(config);
  }
}

/** Creates the submissions consumer, or brings the one an earlier version made to this config. */
async function ensureConsumer(jsm: JetStreamManager): Promise<void> {
  const settings = { ack_wait: ms(ACK_WAIT_MS), max_ack_pending: 1 };
  try {
    await jsm.consumers.info(SUBMISSIONS_STREAM, CONSUMER);
    await jsm.consumers.update(SUBMISSIONS_STREAM, CONSUMER, settings);
  } catch (err) {
    if (!(err instanceof JetStreamApiError) || err.status !== 404) throw err;
    await jsm.consumers.add(SUBMISSIONS_STREAM, {
      durable_name: CONSUMER,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      ...settings,
    });
  }
}

export class JetStreamControlStore implements ControlStore {
  readonly where: string;
  readonly durable = true;
  private readonly nc: NatsConnection;
  private readonly js: JetStreamClient;
  private readonly kv: KV;
  private closed = false;
  private loop: Promise<void> | null = null;

  private constructor(servers: string, nc: NatsConnection, js: JetStreamClient, kv: KV) {
    this.where = `JetStream at ${servers}`;
    this.nc = nc;
    this.js = js;
    this.kv = kv;
  }

  /** Connects and creates (or updates) the bucket, the streams and the consumer. */
  static async open(
    access: string | NatsAccess,
    name = 'harmonium-coordinator',
  ): Promise<JetStreamControlStore> {
    const { servers } = natsAccess(access);
    const nc = await connectNats(access, name);
    try {
      const jsm = await jetstreamManager(nc);
      await ensureStream(jsm, {
        name: SUBMISSIONS_STREAM,
        subjects: [SUBMIT_SUBJECT],
        retention: RetentionPolicy.Workqueue,
        storage: StorageType.File,
        duplicate_window: ms(DEDUP_WINDOW_MS),
      });
      await ensureStream(jsm, {
        name: DEAD_LETTER_STREAM,
        subjects: [DEAD_LETTER_SUBJECT],
        storage: StorageType.File,
      });
      await ensureStream(jsm, {
        name: EVENTS_STREAM,
        subjects: [`${EVENTS_SUBJECT}.>`],
        storage: StorageType.File,
        max_age: ms(EVENTS_MAX_AGE_MS),
        max_bytes: EVENTS_MAX_BYTES,
        discard: DiscardPolicy.Old,
      });
      await ensureConsumer(jsm);
      const kv = await new Kvm(nc).create(KV_BUCKET, { history: 1, storage: StorageType.File });
      return new JetStreamControlStore(servers, nc, jetstream(nc), kv);
    } catch (err) {
      await nc.close();
      if (err instanceof ClusterError) throw err;
      throw new ClusterError(
        'STORE_FAILED',
        `cannot set up JetStream state at ${servers} (is the server started with -js?): ${(err as Error).message}`,
        { cause: err },
      );
    }
  }

  async loadJobs(): Promise<Revisioned[]> {
    const out: Revisioned[] = [];
    try {
      const keys: string[] = [];
      for await (const k of await this.kv.keys(`${JOB_KEY_PREFIX}>`)) keys.push(k);
      for (const key of keys) {
        const e = await this.kv.get(key);
        if (e && e.operation === 'PUT') {
          out.push({ key: key.slice(JOB_KEY_PREFIX.length), value: e.string(), revision: e.revision });
        }
      }
    } catch (err) {
      throw this.failed(`read the job records of bucket ${KV_BUCKET}`, err);
    }
    return out;
  }

  async putJob(id: string, value: string, revision: number): Promise<number> {
    return this.put(JOB_KEY_PREFIX + id, value, revision);
  }

  async readLease(): Promise<Revisioned | null> {
    try {
      const e = await this.kv.get(LEASE_KEY);
      return e && e.operation === 'PUT' ? { key: LEASE_KEY, value: e.string(), revision: e.revision } : null;
    } catch (err) {
      throw this.failed(`read ${LEASE_KEY}`, err);
    }
  }

  async putLease(value: string, revision: number): Promise<number> {
    return this.put(LEASE_KEY, value, revision);
  }

  private async put(key: string, value: string, revision: number): Promise<number> {
    try {
      return revision === 0 ? await this.kv.create(key, value) : await this.kv.update(key, value, revision);
    } catch (err) {
      if (err instanceof JetStreamApiError && err.code === WRONG_LAST_SEQUENCE) {
        throw new ClusterError(
          'STALE_REVISION',
          `${key} of bucket ${KV_BUCKET} is no longer at revision ${revision}: another coordinator wrote it`,
          { cause: err },
        );
      }
      throw this.failed(`write ${key}`, err);
    }
  }

  async enqueue(id: string, body: string): Promise<{ duplicate: boolean }> {
    try {
      const ack = await this.js.publish(SUBMIT_SUBJECT, body, { msgID: id });
      return { duplicate: ack.duplicate };
    } catch (err) {
      throw this.failed(`queue job ${id} on ${SUBMIT_SUBJECT}`, err);
    }
  }

  consume(take: (s: QueuedSubmission) => Promise<void>): void {
    this.loop ??= this.pull(take);
  }

  publishEvent(jobId: string, kind: string, body: string): void {
    if (this.nc.isClosed()) return;
    // Core NATS: the stream captures it; while reconnecting the client buffers it.
    this.nc.publish(`${EVENTS_SUBJECT}.${jobId}.${kind}`, body);
  }

  async close(): Promise<void> {
    this.closed = true;
    if (!this.nc.isClosed()) await this.nc.drain().catch(() => undefined);
    await this.loop;
  }

  private async pull(take: (s: QueuedSubmission) => Promise<void>): Promise<void> {
    while (!this.closed) {
      let m: JsMsg | null = null;
      try {
        const consumer = await this.js.consumers.get(SUBMISSIONS_STREAM, CONSUMER);
        m = await consumer.next({ expires: PULL_EXPIRES_MS });
      } catch {
        // The server is away or restarting: the connection reconnects; try again shortly.
        if (!this.closed) await new Promise((r) => setTimeout(r, 500));
        continue;
      }
      if (!m) continue;
      await take(this.submission(m)).catch(() => undefined);
    }
  }

  private submission(m: JsMsg): QueuedSubmission {
    return {
      body: m.string(),
      sequence: m.info.streamSequence,
      ack: async () => {
        await m.ackAck();
      },
      reject: async (reason) => {
        const h = headers();
        // A header value is one line.
        h.set(REASON_HEADER, reason.replace(/[\r\n]+/g, ' '));
        await this.js.publish(DEAD_LETTER_SUBJECT, m.data, { headers: h });
        await m.ackAck();
      },
    };
  }

  private failed(what: string, err: unknown): ClusterError {
    return new ClusterError('STORE_FAILED', `${this.where}: cannot ${what}: ${(err as Error).message}`, {
      cause: err,
    });
  }
}
