/**
 * Turns the user's `data` option into a training corpus (in memory, or a shard corpus to stream)
 * and, when the source has one, a test set; and the `test-data` option into a test set.
 * Accepted forms: `fashion-mnist`, `idx:PATH`, `images:DIR`, `shards:DIR`, `shards:http(s)://...`.
 */
import { access } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';

import { limitSet } from './corpus.js';
import type { ImageSet, ImageShape } from './corpus.js';
import { loadFashionMnist } from './fashion-mnist.js';
import type { FashionMnistOptions } from './fashion-mnist.js';
import { readIdxImageSet } from './idx-reader.js';
import { readImageFolder } from './image-folder-reader.js';
import { isShardUrl, type HttpShardStoreOptions } from './http-shard-store.js';
import { ShardCache } from './shard-cache.js';
import { openShards, ShardCorpus } from './shard-reader.js';
import { ConfigError } from '../errors.js';

export { openShards, ShardCorpus } from './shard-reader.js';

const ACCEPTED =
  'fashion-mnist, idx:PATH (a *-images-idx3-ubyte[.gz] file), images:DIR, shards:DIR, shards:http(s)://HOST/PATH';

/** Options for {@link openCorpus}. */
export interface OpenCorpusOptions {
  /** Geometry `images:DIR` converts every image to; required for that form only. */
  readonly imageShape?: ImageShape;
  /** Where `fashion-mnist` looks and whether it may download. */
  readonly fashionMnist?: FashionMnistOptions;
  /** The option named in errors about the spec; default "data". */
  readonly field?: string;
  /** Requests and cache of a `shards:URL` corpus. */
  readonly http?: HttpShardStoreOptions;
}

/** The job options that shape a `shards:URL` corpus's requests and cache (absent: the defaults). */
export interface ShardHttpSettings {
  /** Seconds a request may go without data before it is retried. */
  readonly dataTimeout?: number;
  /** The cache directory; '' or absent: harmonium-shard-cache in the temp directory. */
  readonly shardCache?: string;
  /** MiB the cache may hold; 0: no cache. */
  readonly shardCacheMb?: number;
}

/** The request and cache options of {@link ShardHttpSettings}. */
export function shardHttpOptions(settings: ShardHttpSettings): HttpShardStoreOptions {
  const mb = settings.shardCacheMb ?? 2048;
  const dir = settings.shardCache || join(tmpdir(), 'harmonium-shard-cache');
  return {
    stallMs: (settings.dataTimeout ?? 30) * 1000,
    cache: mb > 0 ? new ShardCache(resolve(dir), mb * (1 << 20)) : null,
  };
}

/** The opened corpus. */
export interface OpenedCorpus {
  /**
   * The training split: in memory, or for `shards:DIR` the opened corpus (only its manifest read)
   * for training to stream (ShardBatchSource).
   */
  readonly train: ImageSet | ShardCorpus;
  /** The held-out split, when the source has one. */
  readonly test: ImageSet | null;
  /** One line saying where the data came from, for logs and summary.json. */
  readonly source: string;
}

async function firstExisting(paths: readonly string[]): Promise<string | null> {
  for (const p of paths) {
    try {
      await access(p);
      return p;
    } catch {
      // try the next candidate
    }
  }
  return null;
}

/** `p` and `p` with its ".gz" suffix toggled, since either may be on disk. */
function withAndWithoutGz(p: string): string[] {
  return p.endsWith('.gz') ? [p, p.slice(0, -3)] : [p, `${p}.gz`];
}

const IMAGES_PART = '-images-idx3-ubyte';
const LABELS_PART = '-labels-idx1-ubyte';

/** The labels file beside an images file by MNIST naming, if present. */
async function labelsBeside(imagesPath: string): Promise<string | null> {
  const name = basename(imagesPath);
  if (!name.includes(IMAGES_PART)) return null;
  return firstExisting(withAndWithoutGz(join(dirname(imagesPath), name.replace(IMAGES_PART, LABELS_PART))));
}

/** The test-split images file beside a train one ("train" -> "t10k" or "test"), if present. */
async function testImagesBeside(trainPath: string): Promise<string | null> {
  const name = basename(trainPath);
  const at = name.lastIndexOf('train', name.indexOf(IMAGES_PART));
  if (!name.includes(IMAGES_PART) || at < 0) return null;
  const candidates = ['t10k', 'test'].flatMap((t) =>
    withAndWithoutGz(join(dirname(trainPath), name.slice(0, at) + t + name.slice(at + 'train'.length))),
  );
  return firstExisting(candidates);
}

async function openIdx(path: string): Promise<OpenedCorpus> {
  const train = await readIdxImageSet(path, await labelsBeside(path), `idx:${path}`);
  const testPath = await testImagesBeside(path);
  const test =
    testPath === null
      ? null
      : await readIdxImageSet(testPath, await labelsBeside(testPath), `idx:${testPath}`);
  const source = `IDX ${path}${test === null ? '' : ` (test split ${testPath})`}`;
  return { train, test, source };
}

/**
 * Parses `spec` and loads the corpus:
 * - `fashion-mnist`: train 60000 / test 10000 (see fashion-mnist.ts for where it is found);
 * - `idx:PATH`: PATH is a train images IDX file; `-labels-idx1-ubyte` labels beside it are
 *   used when present, and a test split named with "t10k" or "test" in place of "train";
 * - `images:DIR`: a PNG/JPEG folder tree at `opts.imageShape`; no test split;
 * - `shards:DIR` or `shards:http(s)://...`: a sharded corpus, opened but not read (train is a
 *   ShardCorpus); no test split.
 * Throws ConfigError on field `opts.field` ("data") for an unknown form or a missing part,
 * DataError for data that cannot be read.
 */
export async function openCorpus(spec: string, opts: OpenCorpusOptions = {}): Promise<OpenedCorpus> {
  const field = opts.field ?? 'data';
  if (spec === 'fashion-mnist') {
    const { train, test } = await loadFashionMnist(opts.fashionMnist);
    return { train, test, source: 'Fashion-MNIST' };
  }
  const colon = spec.indexOf(':');
  const scheme = colon < 0 ? spec : spec.slice(0, colon);
  const rest = colon < 0 ? '' : spec.slice(colon + 1);
  const known = scheme === 'idx' || scheme === 'images' || scheme === 'shards';
  if (!known) throw new ConfigError(field, `unknown corpus "${spec}"; expected one of: ${ACCEPTED}`);
  if (rest === '')
    throw new ConfigError(field, `"${spec}" needs a path after "${scheme}:"; expected one of: ${ACCEPTED}`);
  if (scheme === 'shards' && isShardUrl(rest)) {
    return { train: await openShards(rest, opts.http), test: null, source: `shards ${rest}` };
  }
  const path = resolve(rest);
  switch (scheme) {
    case 'idx':
      return openIdx(path);
    case 'images': {
      if (opts.imageShape === undefined) {
        throw new ConfigError(field, `"${spec}" needs an image size (height, width, channels) to resize to`);
      }
      const train = await readImageFolder(path, { ...opts.imageShape, name: `images:${path}` });
      return { train, test: null, source: `image folder ${path}` };
    }
    default:
      return { train: await openShards(path), test: null, source: `shards ${path}` };
  }
}

/** At most this many training images are read back from a streamed corpus for evaluation. */
export const STREAMED_EVAL_TRAIN_IMAGES = 10000;

/**
 * The training images evaluation fits the PCA baseline on and draws the probes' labelled images
 * from, in memory with their labels: the first `limit` (0: all) of an in-memory corpus; of a shard
 * corpus the first min(limit, STREAMED_EVAL_TRAIN_IMAGES), reading only the shards they are in.
 */
export async function evaluationTrainSet(train: ImageSet | ShardCorpus, limit: number): Promise<ImageSet> {
  if (!(train instanceof ShardCorpus)) return limit > 0 ? limitSet(train, limit) : train;
  return train.readImages(Math.min(limit > 0 ? limit : train.count, STREAMED_EVAL_TRAIN_IMAGES));
}

/**
 * The test set of the `test-data` option `spec` (the forms of openCorpus), in memory: the held-out
 * split of the corpus when it has one, else all its images. Throws ConfigError on "test-data" for
 * a bad spec or images of another shape than `shape` (the training images').
 */
export async function openTestSet(
  spec: string,
  shape: ImageShape,
  opts: OpenCorpusOptions = {},
): Promise<ImageSet> {
  const corpus = await openCorpus(spec, { ...opts, field: 'test-data' });
  const test =
    corpus.test ?? (corpus.train instanceof ShardCorpus ? await corpus.train.readImages() : corpus.train);
  const size = (s: ImageShape): string => `${s.height}x${s.width}x${s.channels}`;
  if (size(test.shape) !== size(shape)) {
    throw new ConfigError(
      'test-data',
      `${test.name}: images are ${size(test.shape)}, the training images are ${size(shape)}`,
    );
  }
  return test;
}
