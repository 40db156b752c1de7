/**
 * Reads a shard corpus's shards on a decode thread (shard-decode-thread.ts): the training thread
 * asks for a shard and gets its decoded images back, while its own time goes to the step. The
 * thread holds the process open only while a request is pending.
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
  private readonly thread: Worker;
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;
  private failure: Error | null = null;

  /** Decodes the shards of the corpus at `location` (a directory or a URL) of images of `shape`. */
  constructor(
    location: string,
    private readonly shape: ImageShape,
    http: ShardHttpSettings,
  ) {
    const data: DecodeThreadData = { location, http };
    this.thread = new Worker(new URL('./shard-decode-thread.mjs', import.meta.url), { workerData: data });
    this.thread.unref();
    this.thread.on('message', (reply: DecodeReply) => this.settle(reply));
    this.thread.on('error', (err) => this.fail(`the shard decode thread failed: ${err.message}`, err));
    this.thread.on('exit', (code) => this.fail(`the shard decode thread exited (code ${code})`));
  }

  readShard(index: number): Promise<LoadedShard> {
    if (this.failure) return Promise.reject(this.failure);
    const id = this.nextId++;
    const request: DecodeRequest = { id, index };
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      // Held open while it works for us; idle, it must not keep the process from exiting.
      if (this.pending.size === 1) this.thread.ref();
      this.thread.postMessage(request);
    });
  }

  /** Stops the thread; pending reads fail. */
  async close(): Promise<void> {
    await this.thread.terminate();
  }

  private settle(reply: DecodeReply): void {
    const p = this.pending.get(reply.id);
    if (!p) return;
    this.pending.delete(reply.id);
    if (this.pending.size === 0) this.thread.unref();
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
