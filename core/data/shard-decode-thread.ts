/**
 * A shard decode thread (worker_threads): it reads, verifies and decodes the shards the training
 * thread asks for (thread-shard-reader.ts), so PNG decoding and hashing never hold up a step. The
 * decoded pixels are transferred, not copied.
 */
import { parentPort, workerData } from 'node:worker_threads';

import { shardHttpOptions, type ShardHttpSettings } from './open-corpus.js';
import { openShards, type ShardCorpus } from './shard-reader.js';
import { HarmoniumError } from '../errors.js';

/** What the thread is started with. */
export interface DecodeThreadData {
  readonly location: string;
  readonly http: ShardHttpSettings;
}

/** A request: decode shard `index`. */
export interface DecodeRequest {
  readonly id: number;
  readonly index: number;
}

/** The answer to request `id`: the shard, or the error that stopped it. */
export type DecodeReply =
  | {
      readonly id: number;
      readonly shard: {
        readonly index: number;
        readonly file: string;
        readonly keys: readonly string[];
        readonly name: string;
        readonly count: number;
        readonly pixels: Uint8Array;
        readonly labels: Uint8Array | null;
      };
    }
  | { readonly id: number; readonly error: { readonly code: string | null; readonly message: string } };

const port = parentPort!;
const data = workerData as DecodeThreadData;
let corpus: Promise<ShardCorpus> | null = null;

port.on('message', (req: DecodeRequest) => {
  void (async () => {
    try {
      corpus ??= openShards(data.location, shardHttpOptions(data.http));
      const s = await (await corpus).readShard(req.index);
      const { pixels, labels } = s.images;
      const reply: DecodeReply = {
        id: req.id,
        shard: {
          index: s.index,
          file: s.file,
          keys: s.keys,
          name: s.images.name,
          count: s.images.count,
          pixels,
          labels,
        },
      };
      // Each is a buffer of its own (not a pooled slice), so it can move to the other thread whole.
      const moved = [pixels.buffer as ArrayBuffer, ...(labels ? [labels.buffer as ArrayBuffer] : [])];
      port.postMessage(reply, moved);
    } catch (err) {
      const reply: DecodeReply = {
        id: req.id,
        error: {
          code: err instanceof HarmoniumError ? err.code : null,
          message: err instanceof Error ? err.message : String(err),
        },
      };
      port.postMessage(reply);
    }
  })();
});
