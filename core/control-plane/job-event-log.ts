/**
 * Reading a job's events back from JetStream's `HARMONIUM_EVENTS` stream, from the first: what
 * `harmonium logs` prints, and what any NATS client can do with an ordered consumer on
 * `harmonium.jobs.<job id>.>`.
 */
import type { NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { ClusterError } from '../errors.js';
import { EVENTS_STREAM, EVENTS_SUBJECT } from './jetstream-control-store.js';

/** One event as published: its subject's kind and its JSON body. */
export interface StoredEvent {
  readonly kind: string;
  readonly body: string;
}

/** Whether an event body says the job ended (a state event with a terminal state). */
export function endsJob(e: StoredEvent): boolean {
  if (e.kind !== 'state') return false;
  const state = (JSON.parse(e.body) as { state?: unknown }).state;
  return state === 'SUCCEEDED' || state === 'FAILED' || state === 'CANCELLED';
}

/**
 * Hands job `jobId`'s events, oldest first, to `onEvent`. Without `follow` it stops after the last
 * event stored now; with it, after the event that ends the job (or when `stop` resolves). Returns
 * how many events it handed on.
 */
export async function readJobEvents(
  nc: NatsConnection,
  jobId: string,
  opts: { follow: boolean; onEvent: (e: StoredEvent) => void; stop?: Promise<void> },
): Promise<number> {
  const subject = `${EVENTS_SUBJECT}.${jobId}.>`;
  let stored: number;
  try {
    const info = await (await jetstreamManager(nc)).streams.info(EVENTS_STREAM, { subjects_filter: subject });
    stored = Object.values(info.state.subjects ?? {}).reduce((a, b) => a + b, 0);
  } catch (err) {
    throw new ClusterError(
      'STORE_FAILED',
      `cannot read stream ${EVENTS_STREAM} (is a coordinator with --nats using this server?): ${(err as Error).message}`,
      { cause: err },
    );
  }
  if (stored === 0 && !opts.follow) return 0;
  const consumer = await jetstream(nc).consumers.get(EVENTS_STREAM, { filter_subjects: subject });
  const messages = await consumer.consume();
  void opts.stop?.then(() => messages.stop());
  let n = 0;
  for await (const m of messages) {
    const e = { kind: m.subject.slice(m.subject.lastIndexOf('.') + 1), body: m.string() };
    opts.onEvent(e);
    n++;
    if (opts.follow ? endsJob(e) : m.info.pending === 0) break;
  }
  messages.stop();
  return n;
}
