import { openCorpus, ShardCorpus } from '../core/data/open-corpus.js';
import { packShards } from '../core/data/shard-writer.js';
import { ConfigError } from '../core/errors.js';

export interface PackOptions {
  readonly out: string;
  readonly shardSize: string;
  readonly split: string;
  readonly imageHeight: string;
  readonly imageWidth: string;
  readonly imageChannels: string;
}

function positiveInt(field: string, raw: string, max: number): number {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > max) {
    throw new ConfigError(field, `expected a whole number from 1 to ${max}, got ${JSON.stringify(raw)}`);
  }
  return n;
}

/** `harmonium data pack SRC --out DIR --shard-size N [--split train|test]`. */
export async function packCommand(src: string, opts: PackOptions): Promise<void> {
  const shardSize = positiveInt('shard-size', opts.shardSize, 1e9);
  if (opts.split !== 'train' && opts.split !== 'test') {
    throw new ConfigError('split', `expected train or test, got ${JSON.stringify(opts.split)}`);
  }
  const corpus = await openCorpus(src, {
    imageShape: {
      height: positiveInt('image-height', opts.imageHeight, 4096),
      width: positiveInt('image-width', opts.imageWidth, 4096),
      channels: positiveInt('image-channels', opts.imageChannels, 3),
    },
  });
  if (corpus.train instanceof ShardCorpus) throw new ConfigError('src', 'is already a shard corpus');
  const set = opts.split === 'train' ? corpus.train : corpus.test;
  if (!set) throw new ConfigError('split', `${corpus.source} has no test split`);
  const manifest = await packShards(set, opts.out, shardSize);
  console.log(
    `wrote ${manifest.shards.length} shards (${manifest.count} images, ${manifest.hasLabels ? 'with' : 'without'} labels) and manifest.json to ${opts.out}`,
  );
}
