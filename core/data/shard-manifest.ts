/**
 * The manifest.json of a sharded corpus: geometry, sample count and, per shard, its file name,
 * sample count, byte size and sha256. Written last by the shard writer, validated field by field
 * by the reader.
 */
import type { ImageShape } from './corpus.js';
import { DataError } from '../errors.js';

/** The manifest's file name inside a corpus directory. */
export const MANIFEST_FILE = 'manifest.json';
/** The manifest's `format` value. */
export const SHARDS_FORMAT = 'harmonium-shards';
/** The manifest version this code writes and reads. */
export const SHARDS_VERSION = 1;
/** Largest shard file a reader allocates for; a manifest listing a larger one is refused. */
export const MAX_SHARD_BYTES = 2 ** 31 - 1;

/** One shard file as listed in the manifest. */
export interface ShardInfo {
  /** File name inside the corpus directory, e.g. "shard-000000.tar". */
  readonly file: string;
  readonly count: number;
  readonly bytes: number;
  /** Lower-case hex sha256 of the whole file. */
  readonly sha256: string;
}

/** The parsed manifest.json. */
export interface ShardManifest {
  readonly format: typeof SHARDS_FORMAT;
  readonly version: typeof SHARDS_VERSION;
  readonly shape: ImageShape;
  readonly count: number;
  readonly shardSize: number;
  readonly hasLabels: boolean;
  readonly shards: readonly ShardInfo[];
}

/** The file name of shard `index`: shard-000000.tar, shard-000001.tar, ... */
export function shardFileName(index: number): string {
  return `shard-${String(index).padStart(6, '0')}.tar`;
}

type Json = unknown;

function isObject(v: Json): v is Record<string, Json> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Checks that `raw` (parsed JSON read from `path`) is a valid version-1 manifest and returns it
 * typed. Throws DataError DATA_FORMAT naming `path` and the offending field.
 */
export function validateManifest(raw: Json, path: string): ShardManifest {
  const fail = (field: string, msg: string): never => {
    throw new DataError('DATA_FORMAT', `${path}: field "${field}": ${msg}`);
  };
  const int = (v: Json, field: string, min: number): number => {
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) {
      fail(field, `expected an integer >= ${min}, got ${JSON.stringify(v)}`);
    }
    return v as number;
  };
  if (!isObject(raw)) return fail('(root)', 'expected a JSON object');
  if (raw.format !== SHARDS_FORMAT)
    fail('format', `expected "${SHARDS_FORMAT}", got ${JSON.stringify(raw.format)}`);
  if (raw.version !== SHARDS_VERSION) {
    fail(
      'version',
      `expected ${SHARDS_VERSION}, got ${JSON.stringify(raw.version)} (written by another version?)`,
    );
  }
  const s = raw.shape;
  if (!isObject(s)) return fail('shape', 'expected an object {height, width, channels}');
  const shape: ImageShape = {
    height: int(s.height, 'shape.height', 1),
    width: int(s.width, 'shape.width', 1),
    channels: int(s.channels, 'shape.channels', 1),
  };
  if (shape.channels !== 1 && shape.channels !== 3)
    fail('shape.channels', `expected 1 or 3, got ${shape.channels}`);
  const count = int(raw.count, 'count', 0);
  const shardSize = int(raw.shardSize, 'shardSize', 1);
  if (typeof raw.hasLabels !== 'boolean')
    fail('hasLabels', `expected true or false, got ${JSON.stringify(raw.hasLabels)}`);
  if (!Array.isArray(raw.shards)) return fail('shards', 'expected an array');
  const seen = new Set<string>();
  let total = 0;
  const shards = raw.shards.map((e: Json, i: number): ShardInfo => {
    const f = `shards[${i}]`;
    if (!isObject(e)) return fail(f, 'expected an object {file, count, bytes, sha256}');
    // A bare file name: a manifest must not point outside its directory.
    if (typeof e.file !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(e.file)) {
      fail(`${f}.file`, `expected a plain file name, got ${JSON.stringify(e.file)}`);
    }
    const file = e.file as string;
    if (seen.has(file)) fail(`${f}.file`, `${file} is listed twice`);
    seen.add(file);
    const n = int(e.count, `${f}.count`, 1);
    if (n > shardSize) fail(`${f}.count`, `${n} exceeds shardSize ${shardSize}`);
    const bytes = int(e.bytes, `${f}.bytes`, 1);
    if (bytes > MAX_SHARD_BYTES)
      fail(`${f}.bytes`, `${bytes} is more than a shard may hold (${MAX_SHARD_BYTES})`);
    if (typeof e.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(e.sha256)) {
      fail(`${f}.sha256`, `expected 64 lower-case hex digits, got ${JSON.stringify(e.sha256)}`);
    }
    total += n;
    return { file, count: n, bytes, sha256: e.sha256 as string };
  });
  if (total !== count) fail('count', `${count} but the shards hold ${total} samples`);
  return {
    format: SHARDS_FORMAT,
    version: SHARDS_VERSION,
    shape,
    count,
    shardSize,
    hasLabels: raw.hasLabels as boolean,
    shards,
  };
}
