/**
 * A worker's control thread (worker_threads): its Join stream and its heartbeats to the
 * coordinator, off the training thread. A synchronous step or an evaluation that blocks the
 * training thread for a minute neither delays a heartbeat nor leaves a keepalive ping unanswered,
 * so a busy worker is never taken for a hung one; a stopped process (SIGSTOP) or a partitioned host
 * stops both. The training thread sends its job and generation by message and its step through
 * shared memory; events and heartbeat answers come back as messages (control-channel.ts).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { ClusterError } from '../core/errors.js';
import { ClusterCredentials } from '../core/security/cluster-credentials.js';
import type { WorkerEvent__Output } from '../proto/coordinator-service.js';
import { CoordinatorClient, type JoinDetails } from './coordinator-client.js';
import type { ControlData, ToControl, FromControl } from './control-messages.js';

const data = workerData as ControlData;
const port = parentPort!;
const post = (m: FromControl): void => port.postMessage(m);
const step = new Float64Array(data.step);
const client = new CoordinatorClient(data.coordinator, ClusterCredentials.fromData(data.credentials)).as(
  data.details.workerId,
  data.workerKey,
);
const details: JoinDetails = data.details;

let job = { id: '', generation: 0, rank: -1 };
let intervalMs = data.idleIntervalMs;
let timer: NodeJS.Timeout | null = null;
let leaveStream: (() => void) | null = null;
let lastAnswer = Date.now();
let failedInARow = 0;
let closing = false;
let rejoinTimer: NodeJS.Timeout | null = null;
let rejoinDelay = 100;
/** Whether the stream's end has been told since the coordinator last answered. */
let endTold = false;
/** When the current Join stream was opened. */
let joinedAt = 0;
/** How long an old Join stream outlives the one that replaces it. */
const REPLACE_AFTER_MS = 1000;
/** How long after opening a stream a heartbeat answer saying "join again" is taken as stale. */
const JOIN_SETTLE_MS = 2000;

/**
 * Opens the Join stream; a stream that ends while this thread runs is opened again, with backoff.
 * Joining again says where the worker stands, so that a coordinator that took over its job from
 * the store takes it back as the member it is.
 */
function join(): void {
  // Make before break: the new stream replaces the old one on the coordinator, and the old one's
  // end then says nothing; the other way round the worker would look gone for a moment. The old one
  // is closed a little later, because a new call goes out a few ticks after a cancel would.
  const previous = leaveStream;
  joinedAt = Date.now();
  leaveStream = client.join(
    { ...details, placement: { jobId: job.id, generation: job.generation, rank: job.rank, step: step[0]! } },
    (event: WorkerEvent__Output) => {
      lastAnswer = Date.now();
      rejoinDelay = 100;
      post({ type: 'event', event });
    },
    (err) => {
      if (closing) return;
      // Refused credentials do not get better by trying again.
      if (err && (err.code === 'UNAUTHENTICATED' || err.code === 'PERMISSION_DENIED')) {
        closing = true;
        post({ type: 'lost', message: err.message });
        return;
      }
      // Out of reach or standing by: the next coordinator of the list may lead.
      if (err) client.rotate();
      if (!endTold)
        post({ type: 'stream-ended', message: err?.message ?? 'the coordinator ended the Join stream' });
      endTold = true;
      scheduleRejoin();
    },
  );
  if (previous) setTimeout(previous, REPLACE_AFTER_MS).unref();
}

function scheduleRejoin(): void {
  if (closing || rejoinTimer) return;
  rejoinTimer = setTimeout(() => {
    rejoinTimer = null;
    join();
  }, rejoinDelay);
  rejoinDelay = Math.min(1000, rejoinDelay * 2);
}

function beat(): void {
  const jobId = job.id;
  client.heartbeat(jobId, job.generation, step[0]!, Math.max(intervalMs, 1000)).then(
    (reply) => {
      lastAnswer = Date.now();
      failedInARow = 0;
      endTold = false;
      post({
        type: 'heartbeat',
        jobId,
        stop: reply.stop,
        reason: reply.reason,
        unknown: reply.unknown,
        recordedStep: reply.recordedStep,
      });
      // An answer sent before a Join in flight arrived may still say so: only a later one counts.
      if (reply.unknown || (reply.joinAgain && Date.now() - joinedAt > JOIN_SETTLE_MS)) join();
    },
    (err: unknown) => {
      failedInARow++;
      client.rotate();
      // Several silent intervals, not one late answer, mean the coordinator is gone.
      if (failedInARow >= 3 && Date.now() - lastAnswer > Math.max(4 * intervalMs, data.lostAfterMs)) {
        post({
          type: 'lost',
          message: new ClusterError('RPC_FAILED', `lost the coordinator: ${(err as Error).message}`).message,
        });
      }
    },
  );
}

function schedule(ms: number): void {
  intervalMs = ms;
  if (timer) clearInterval(timer);
  timer = setInterval(beat, ms);
}

port.on('message', (m: ToControl) => {
  if (m.type === 'job') {
    job = { id: m.jobId, generation: m.generation, rank: m.rank };
    schedule(m.intervalMs);
    beat();
  } else if (m.type === 'close') {
    closing = true;
    if (timer) clearInterval(timer);
    if (rejoinTimer) clearTimeout(rejoinTimer);
    leaveStream?.();
    client.close();
    port.close();
  }
});

join();
schedule(intervalMs);
