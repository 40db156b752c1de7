/**
 * The training thread's side of its control thread (control-thread.ts): starts it, tells it which
 * job and generation the worker is in and how far it got, and hands on what it hears from the
 * coordinator. Everything the coordinator sends is queued here until the training thread asks.
 */
import { Worker } from 'node:worker_threads';
import { ClusterCredentials } from '../core/security/cluster-credentials.js';
import type { WorkerEvent__Output } from '../proto/coordinator-service.js';
import type { JoinDetails } from './coordinator-client.js';
import type { ControlData, FromControl, ToControl } from './control-messages.js';

/** Heartbeat interval before a job tells a shorter one. */
const IDLE_HEARTBEAT_MS = 2000;
/**
 * Default silence from the coordinator after which the worker gives up on it. Until then a job
 * trains on (its data plane is peer to peer) while a restarted or standby coordinator takes over.
 */
export const COORDINATOR_TIMEOUT_MS = 60_000;

/** What the control thread reports besides events. */
export interface ControlHandlers {
  /** A heartbeat answer (one that says stop is also delivered as an abort event for its job). */
  heartbeat(answer: {
    jobId: string;
    stop: boolean;
    reason: string;
    unknown: boolean;
    recordedStep: number;
  }): void;
  /** The coordinator has not answered for a long while. */
  lost(message: string): void;
  /** The Join stream broke (it is opened again). */
  streamEnded(message: string): void;
}

export class ControlChannel {
  private readonly thread: Worker;
  private readonly step: Float64Array;
  private readonly queue: WorkerEvent__Output[] = [];
  private waiting: ((e: WorkerEvent__Output) => void) | null = null;
  private listener: ((e: WorkerEvent__Output) => boolean) | null = null;
  private closed = false;

  constructor(
    coordinator: string,
    details: JoinDetails,
    handlers: ControlHandlers,
    coordinatorTimeoutMs = COORDINATOR_TIMEOUT_MS,
    caller: { credentials: ClusterCredentials; workerKey: string } = {
      credentials: ClusterCredentials.INSECURE,
      workerKey: '',
    },
  ) {
    const step = new SharedArrayBuffer(8);
    this.step = new Float64Array(step);
    const data: ControlData = {
      coordinator,
      details,
      credentials: caller.credentials.toData(),
      workerKey: caller.workerKey,
      step,
      idleIntervalMs: IDLE_HEARTBEAT_MS,
      lostAfterMs: coordinatorTimeoutMs,
    };
    this.thread = new Worker(new URL('./control-thread.mjs', import.meta.url), { workerData: data });
    this.thread.on('message', (m: FromControl) => {
      if (m.type === 'event') this.deliver(m.event);
      else if (m.type === 'heartbeat') {
        handlers.heartbeat(m);
        // The job is over for this worker (it ended, or the worker was fenced out of it).
        if (m.stop && m.jobId !== '') this.deliver({ abort: { reason: m.reason, jobId: m.jobId } });
      } else if (m.type === 'lost') handlers.lost(m.message);
      else handlers.streamEnded(m.message);
    });
    this.thread.on('error', (err) => handlers.lost(`control thread failed: ${err.message}`));
    // The thread must not keep a finished worker alive.
    this.thread.unref();
  }

  /**
   * Sends heartbeats for `jobId` generation `generation` as `rank` ('', 0 and -1 when idle) every
   * `intervalMs`.
   */
  setJob(jobId: string, generation: number, rank = -1, intervalMs = IDLE_HEARTBEAT_MS): void {
    this.send({ type: 'job', jobId, generation, rank, intervalMs });
  }

  /** The last step this worker committed, for its heartbeats. */
  setStep(step: number): void {
    this.step[0] = step;
  }

  /** The next event from the coordinator that no listener took, in arrival order. */
  next(): Promise<WorkerEvent__Output> {
    const e = this.queue.shift();
    if (e) return Promise.resolve(e);
    return new Promise((resolve) => (this.waiting = resolve));
  }

  /** Takes out of the queue, in order, the events that came while nobody listened and `wanted` picks. */
  take(wanted: (e: WorkerEvent__Output) => boolean): WorkerEvent__Output[] {
    const taken = this.queue.filter(wanted);
    for (const e of taken) this.queue.splice(this.queue.indexOf(e), 1);
    return taken;
  }

  /**
   * Offers events to `listener` as they come, before anyone waits for them (the job runner's signals
   * during training); those it returns false for are queued. null: no listener.
   */
  onEvent(listener: ((e: WorkerEvent__Output) => boolean) | null): void {
    this.listener = listener;
  }

  /**
   * Stops the thread (its Join stream ends, which the coordinator takes as the worker leaving).
   * Resolves with how it ended: 'exited' on its own, or 'terminated' after 1 s.
   */
  async close(): Promise<'exited' | 'terminated' | 'closed before'> {
    if (this.closed) return 'closed before';
    this.send({ type: 'close' });
    this.closed = true;
    return new Promise((resolve) => {
      let how: 'exited' | 'terminated' = 'exited';
      const t = setTimeout(() => {
        how = 'terminated';
        void this.thread.terminate();
      }, 1000);
      this.thread.once('exit', () => {
        clearTimeout(t);
        resolve(how);
      });
    });
  }

  private deliver(e: WorkerEvent__Output): void {
    if (this.listener?.(e)) return;
    if (this.waiting) {
      const w = this.waiting;
      this.waiting = null;
      w(e);
    } else this.queue.push(e);
  }

  private send(m: ToControl): void {
    if (!this.closed) this.thread.postMessage(m);
  }
}
