/**
 * Reads a sharded corpus written by shard-writer.ts, one shard at a time, from a local directory or
 * an HTTP(S) server (shard-store.ts): a shard's bytes are checked against the manifest's size and
 * sha256 by the store, and only then are its images decoded and handed out. At most one shard is
 * held in memory by the iterators, so corpora larger than memory can be streamed.
 */

import { pixelsPerImage } from './corpus.js';
import type { ImageSet, ImageShape } from './corpus.js';
import { decodeImage } from './image-decode.js';
import { resizeInto } from './image-resize.js';
import { HttpShardStore, isShardUrl, type HttpShardStoreOptions } from './http-shard-store.js';
import { LocalShardStore } from './local-shard-store.js';
import { MANIFEST_FILE, validateManifest } from './shard-manifest.js';
import type { ShardManifest } from './shard-manifest.js';
import type { ShardStore } from './shard-store.js';
import { readTar } from './tar.js';
import type { TarEntry } from './tar.js';
import { DataError } from '../errors.js';

/** One decoded shard. */
export interface LoadedShard {
  /** Position of the shard in manifest.shards. */
  readonly index: number;
  /** Path or URL of the shard file. */
  readonly file: string;
  /** The sample keys, in the order of `images`. */
  readonly keys: readonly string[];
  /** The shard's images (and labels when the corpus has them). */
  readonly images: ImageSet;
}

/** One sample; `pixels` is a view into its shard's buffer. */
export interface ShardSample {
  readonly key: string;
  readonly shard: number;
  readonly pixels: Uint8Array;
  readonly label: number | null;
}

interface RawSample {
  key: string;
  png?: TarEntry;
  cls?: TarEntry;
}

/** WebDataset grouping: the key is the entry name up to the first "." of its last path part. */
function splitName(name: string): { key: string; ext: string } {
  const slash = name.lastIndexOf('/');
  const dot = name.indexOf('.', slash + 1);
  return dot < 0 ? { key: name, ext: '' } : { key: name.slice(0, dot), ext: name.slice(dot + 1) };
}

/** Groups consecutive tar entries by key; fields other than png and cls are ignored. */
function groupSamples(buf: Uint8Array, path: string): RawSample[] {
  const samples: RawSample[] = [];
  const seen = new Set<string>();
  for (const entry of readTar(buf, path)) {
    const { key, ext } = splitName(entry.name);
    let cur = samples[samples.length - 1];
    if (cur === undefined || cur.key !== key) {
      if (seen.has(key)) {
        throw new DataError(
          'DATA_FORMAT',
          `${path}: entry ${entry.name}: sample ${key} is split across the shard`,
        );
      }
      seen.add(key);
      cur = { key };
      samples.push(cur);
    }
    if (ext === 'png' || ext === 'cls') {
      if (cur[ext] !== undefined)
        throw new DataError('DATA_FORMAT', `${path}: entry ${entry.name} appears twice`);
      cur[ext] = entry;
    }
  }
  return samples;
}

function parseLabel(entry: TarEntry, path: string): number {
  const text = Buffer.from(entry.data).toString('utf8').trim();
  const v = /^\d{1,3}$/.test(text) ? Number(text) : NaN;
  if (!(v <= 255)) {
    throw new DataError(
      'DATA_FORMAT',
      `${path}: entry ${entry.name}: label "${text}" is not an integer in 0..255`,
    );
  }
  return v;
}

/** Reads shards by index: a ShardCorpus itself, or one decoding on another thread. */
export interface ShardReader {
  readShard(index: number): Promise<LoadedShard>;
}

/** A sharded corpus opened by {@link openShards}. */
export class ShardCorpus implements ShardReader {
  readonly manifest: ShardManifest;

  constructor(
    private readonly store: ShardStore,
    manifest: ShardManifest,
  ) {
    this.manifest = manifest;
  }

  /** The corpus directory or URL. */
  get location(): string {
    return this.store.location;
  }

  /** Geometry of every image. */
  get shape(): ImageShape {
    return this.manifest.shape;
  }

  /** Total number of samples. */
  get count(): number {
    return this.manifest.count;
  }

  /** Number of shard files. */
  get numShards(): number {
    return this.manifest.shards.length;
  }

  /**
   * Reads, verifies and decodes shard `index` (position in manifest.shards). Throws DataError:
   * DATA_NOT_FOUND for a missing file, DATA_CHECKSUM for a size or sha256 mismatch (before any
   * decoding), DATA_TIMEOUT or DATA_UNAVAILABLE for a server that stalls or fails, DATA_CORRUPT/DATA_FORMAT for a malformed tar or sample, IMAGE_DECODE naming the
   * shard file and entry for an undecodable PNG or one of the wrong size.
   */
  async readShard(index: number): Promise<LoadedShard> {
    const info = this.manifest.shards[index];
    if (!Number.isInteger(index) || info === undefined) {
      throw new RangeError(`shard index ${index} out of range 0..${this.numShards - 1}`);
    }
    const path = this.store.where(info.file);
    const raw = groupSamples(await this.store.readShard(info), path);
    if (raw.length !== info.count) {
      throw new DataError(
        'DATA_FORMAT',
        `${path}: holds ${raw.length} samples, ${MANIFEST_FILE} says ${info.count}`,
      );
    }
    const shape = this.shape;
    const d = pixelsPerImage(shape);
    const pixels = new Uint8Array(raw.length * d);
    const labels = this.manifest.hasLabels ? new Uint8Array(raw.length) : null;
    raw.forEach((s, i) => {
      if (s.png === undefined)
        throw new DataError('DATA_FORMAT', `${path}: sample ${s.key} has no .png entry`);
      const where = `${path}: entry ${s.png.name}`;
      const img = decodeImage(s.png.data, where);
      if (img.width !== shape.width || img.height !== shape.height) {
        throw new DataError(
          'IMAGE_DECODE',
          `${where}: image is ${img.width}x${img.height}, ${MANIFEST_FILE} says ${shape.width}x${shape.height}`,
        );
      }
      // Same size: this only converts channels, copying the stored bytes exactly.
      resizeInto(img, shape, pixels, i * d);
      if (labels !== null) {
        if (s.cls === undefined)
          throw new DataError('DATA_FORMAT', `${path}: sample ${s.key} has no .cls entry`);
        labels[i] = parseLabel(s.cls, path);
      }
    });
    return {
      index,
      file: path,
      keys: raw.map((s) => s.key),
      images: { name: path, shape, count: raw.length, pixels, labels },
    };
  }

  /**
   * The first `limit` images (default all) in manifest order as one in-memory ImageSet named
   * `shards:<location>`, with labels when the corpus has them; reads only the shards they are in.
   */
  async readImages(limit: number = this.count): Promise<ImageSet> {
    const count = Math.min(limit, this.count);
    const d = pixelsPerImage(this.shape);
    const pixels = new Uint8Array(count * d);
    const labels = this.manifest.hasLabels ? new Uint8Array(count) : null;
    for (let i = 0, at = 0; at < count; i++) {
      const { images } = await this.readShard(i);
      const n = Math.min(images.count, count - at);
      pixels.set(images.pixels.subarray(0, n * d), at * d);
      if (labels !== null && images.labels !== null) labels.set(images.labels.subarray(0, n), at);
      at += n;
    }
    return { name: `shards:${this.location}`, shape: this.shape, count, pixels, labels };
  }

  /**
   * Yields shards one at a time in `order` (indices into manifest.shards; default 0, 1, ...),
   * each verified before any of its images is yielded. Only the current shard is held.
   */
  async *shards(order?: ArrayLike<number>): AsyncGenerator<LoadedShard> {
    const n = order?.length ?? this.numShards;
    for (let i = 0; i < n; i++) yield await this.readShard(order === undefined ? i : order[i]!);
  }

  /** Yields the samples of the shards in `order` (see {@link shards}), in order within a shard. */
  async *samples(order?: ArrayLike<number>): AsyncGenerator<ShardSample> {
    const d = pixelsPerImage(this.shape);
    for await (const s of this.shards(order)) {
      const { pixels, labels } = s.images;
      for (let i = 0; i < s.images.count; i++) {
        yield {
          key: s.keys[i]!,
          shard: s.index,
          pixels: pixels.subarray(i * d, (i + 1) * d),
          label: labels === null ? null : labels[i]!,
        };
      }
    }
  }
}

/**
 * Opens the sharded corpus at `location`, a directory or an http(s):// URL, reading and validating
 * its manifest.json (no shard is read yet); `http` configures a URL's requests and cache. Throws
 * DataError: DATA_NOT_FOUND without a manifest, DATA_FORMAT for invalid JSON or a bad field (named
 * in the message), DATA_TIMEOUT or DATA_UNAVAILABLE for a server that stalls or fails.
 */
export async function openShards(location: string, http?: HttpShardStoreOptions): Promise<ShardCorpus> {
  const store: ShardStore = isShardUrl(location)
    ? new HttpShardStore(location, http)
    : new LocalShardStore(location);
  const text = await store.readManifest();
  const path = store.where(MANIFEST_FILE);
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new DataError('DATA_FORMAT', `${path}: not valid JSON: ${(err as Error).message}`, { cause: err });
  }
  return new ShardCorpus(store, validateManifest(raw, path));
}

/** Loads a whole sharded corpus into memory as one ImageSet named `shards:<dir>` (small corpora). */
export async function readShardsToImageSet(dir: string): Promise<ImageSet> {
  return (await openShards(dir)).readImages();
}
