/**
 * Reads a shard corpus's shards on a decode thread (shard-decode-thread.ts): the training thread
 * asks for a shard and gets its decoded images back, while its own time goes to the step. The
 * thread holds the process open only while a request is pending, and stops when idle.
 */
import { Worker } from 'node:worker_threads';

import type { ImageShape } from './corpus.js';
import type { ShardHttpSettings } from './open-corpus.js';
import type { DecodeReply, DecodeRequest, DecodeThreadData } from './shard-decode-thread.js';
import type { LoadedShard, ShardReader } from './shard-reader.js';
import { DataError, type ErrorCode } from '../errors.js';

interface Pending {
  readonly resolve: (shard: LoadedShard) => void;
  readonly reject: (err: Error) => void;
}

/** A {@link ShardReader} decoding on its own thread. */
export class ThreadShardReader implements ShardReader {
  private thread: Worker | null = null;
  private readonly data: DecodeThreadData;
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;
  private failure: Error | null = null;
  private idleTimer: NodeJS.Timeout | undefined;

  /**
   * Decodes the shards of the corpus at `location` (a directory or a URL) of images of `shape`.
   * The thread starts with the first read and stops after `idleMs` without one (a worker that ran
   * the job goes on to others), to start again if another read comes.
   */
  constructor(
    location: string,
    private readonly shape: ImageShape,
    http: ShardHttpSettings,
    private readonly idleMs = 30_000,
  ) {
    this.data = { location, http };
  }

  readShard(index: number): Promise<LoadedShard> {
    if (this.failure) return Promise.reject(this.failure);
    clearTimeout(this.idleTimer);
    const thread = (this.thread ??= this.start());
    const id = this.nextId++;
    const request: DecodeRequest = { id, index };
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      // Held open while it works for us; idle, it must not keep the process from exiting.
      if (this.pending.size === 1) thread.ref();
      thread.postMessage(request);
    });
  }

  /** Whether a decode thread is up now. */
  get running(): boolean {
    return this.thread !== null;
  }

  /** Stops the thread for good; pending and later reads fail. */
  async close(): Promise<void> {
    this.fail('the shard decode thread exited: the reader was closed');
    await this.stop();
  }

  private start(): Worker {
    const thread = new Worker(new URL('./shard-decode-thread.mjs', import.meta.url), {
      workerData: this.data,
    });
    thread.unref();
    thread.on('message', (reply: DecodeReply) => this.settle(reply));
    thread.on('error', (err) => this.fail(`the shard decode thread failed: ${err.message}`, err));
    thread.on('exit', (code) => {
      // An idle stop is not a failure: the next read starts a new thread.
      if (thread === this.thread) this.fail(`the shard decode thread exited (code ${code})`);
    });
    return thread;
  }

  private async stop(): Promise<void> {
    clearTimeout(this.idleTimer);
    const thread = this.thread;
    this.thread = null;
    await thread?.terminate();
  }

  private settle(reply: DecodeReply): void {
    const p = this.pending.get(reply.id);
    if (!p) return;
    this.pending.delete(reply.id);
    if (this.pending.size === 0) {
      this.thread?.unref();
      this.idleTimer = setTimeout(() => void this.stop(), this.idleMs);
      this.idleTimer.unref();
    }
    if ('error' in reply) {
      const { code, message } = reply.error;
      p.reject(code ? new DataError(code as ErrorCode, message) : new Error(message));
      return;
    }
    const s = reply.shard;
    p.resolve({
      index: s.index,
      file: s.file,
      keys: s.keys,
      images: { name: s.name, shape: this.shape, count: s.count, pixels: s.pixels, labels: s.labels },
    });
  }

  private fail(message: string, cause?: unknown): void {
    if (this.failure) return;
    this.failure = new DataError('IO', message, { cause });
    for (const p of this.pending.values()) p.reject(this.failure);
    this.pending.clear();
  }
}
