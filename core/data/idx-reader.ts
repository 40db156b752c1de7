/**
 * Reader for IDX files, the format of MNIST, Fashion-MNIST and EMNIST: bytes 0x00 0x00, a type
 * byte, the number of dimensions, one big-endian uint32 per dimension, then the data row-major.
 * Only unsigned-byte data (type 0x08) is supported, which is what every image and label file of
 * those corpora uses. Files may be gzip-compressed; that is detected by the gzip magic number,
 * not by the file name.
 */
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';

import type { ImageSet } from './corpus.js';
import { DataError } from '../errors.js';

const gunzipAsync = promisify(gunzip);

/**
 * The most bytes an IDX file may take uncompressed: 2 GiB, four times EMNIST's largest. A gzip
 * stream is inflated only up to it, so a small file cannot unpack to exhaust memory.
 */
export const MAX_IDX_BYTES = 2 ** 31;

const TYPE_UBYTE = 0x08;
const TYPE_NAMES: Readonly<Record<number, string>> = {
  0x08: 'uint8',
  0x09: 'int8',
  0x0b: 'int16',
  0x0c: 'int32',
  0x0d: 'float32',
  0x0e: 'float64',
};

/** A decoded IDX file: its dimensions and its uint8 data. */
export interface IdxArray {
  readonly dims: readonly number[];
  readonly data: Uint8Array;
}

/** Options for {@link readIdxImageSet}. */
export interface IdxImageSetOptions {
  /** When given, every label must be below it (e.g. 10 for Fashion-MNIST). */
  readonly numClasses?: number;
}

/** Reads a whole file, gunzipping it when it starts with the gzip magic 0x1f 0x8b. */
export async function readMaybeGzipped(path: string): Promise<Uint8Array> {
  let raw: Buffer;
  try {
    raw = await readFile(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new DataError('DATA_NOT_FOUND', `${path}: no such file`, { cause: err });
    throw new DataError('IO', `cannot read ${path}: ${(err as Error).message}`, { cause: err });
  }
  return maybeGunzip(raw, path);
}

/**
 * `raw` read from `path`, gunzipped when it starts with the gzip magic 0x1f 0x8b, to at most
 * `maxBytes` (MAX_IDX_BYTES unless a test asks for less).
 */
export async function maybeGunzip(
  raw: Uint8Array,
  path: string,
  maxBytes = MAX_IDX_BYTES,
): Promise<Uint8Array> {
  if (raw.length < 2 || raw[0] !== 0x1f || raw[1] !== 0x8b) return raw;
  try {
    return await gunzipAsync(raw, { maxOutputLength: maxBytes });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
      throw new DataError('DATA_FORMAT', `${path}: gzip stream inflates to more than ${maxBytes} bytes`, {
        cause: err,
      });
    }
    throw new DataError('DATA_CORRUPT', `${path}: corrupt gzip stream: ${(err as Error).message}`, {
      cause: err,
    });
  }
}

/**
 * Parses IDX bytes read from `path` (already gunzipped). Byte offsets in errors are offsets into
 * the uncompressed data. `expectedDims`, when given, is the required number of dimensions.
 */
export function parseIdx(bytes: Uint8Array, path: string, expectedDims?: number): IdxArray {
  if (bytes.length < 4) {
    throw new DataError(
      'DATA_CORRUPT',
      `${path}: truncated IDX header: ${bytes.length} bytes, need at least 4`,
    );
  }
  if (bytes[0] !== 0 || bytes[1] !== 0) {
    const hex = [bytes[0]!, bytes[1]!].map((b) => `0x${b.toString(16).padStart(2, '0')}`).join(' ');
    throw new DataError(
      'DATA_FORMAT',
      `${path}: byte offset 0: not an IDX file (magic ${hex}, want 0x00 0x00)`,
    );
  }
  const type = bytes[2]!;
  if (type !== TYPE_UBYTE) {
    const name = TYPE_NAMES[type] ?? 'unknown';
    throw new DataError(
      'DATA_FORMAT',
      `${path}: byte offset 2: unsupported IDX data type 0x${type.toString(16).padStart(2, '0')} (${name}); only uint8 (0x08) is supported`,
    );
  }
  const ndims = bytes[3]!;
  if (expectedDims !== undefined && ndims !== expectedDims) {
    throw new DataError(
      'DATA_FORMAT',
      `${path}: byte offset 3: ${ndims} dimensions, expected ${expectedDims}`,
    );
  }
  const headerBytes = 4 + 4 * ndims;
  if (bytes.length < headerBytes) {
    throw new DataError(
      'DATA_CORRUPT',
      `${path}: truncated IDX header: expected ${headerBytes} bytes, file has ${bytes.length}`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dims: number[] = [];
  let total = 1;
  for (let i = 0; i < ndims; i++) {
    const d = view.getUint32(4 + 4 * i, false);
    // A zero would let the other dimensions claim any size over no data at all.
    if (d === 0) throw new DataError('DATA_FORMAT', `${path}: byte offset ${4 + 4 * i}: dimension ${i} is 0`);
    dims.push(d);
    total *= d;
  }
  const expected = headerBytes + total;
  if (bytes.length !== expected) {
    const what = bytes.length < expected ? 'truncated data' : 'trailing bytes after data';
    throw new DataError(
      'DATA_CORRUPT',
      `${path}: ${what}: dims [${dims.join(', ')}] need ${expected} bytes (${headerBytes} header + ${total} data), file has ${bytes.length} (byte offset ${Math.min(bytes.length, expected)})`,
    );
  }
  return { dims, data: bytes.subarray(headerBytes) };
}

/** Reads an IDX file (plain or gzipped) with exactly `expectedDims` dimensions, if given. */
export async function readIdx(path: string, expectedDims?: number): Promise<IdxArray> {
  return parseIdx(await readMaybeGzipped(path), path, expectedDims);
}

/**
 * Reads an IDX images file (uint8, dims [count, height, width]) and, when `labelsPath` is not
 * null, its labels file (uint8, dims [count]) into a grey ImageSet called `name`. Throws
 * DataError (naming the file and byte offset where it applies) for a missing file, wrong magic,
 * unsupported type, wrong number of dimensions, truncated data, corrupt gzip, a label count that
 * differs from the image count, or a label >= `opts.numClasses`.
 */
export async function readIdxImageSet(
  imagesPath: string,
  labelsPath: string | null,
  name: string,
  opts: IdxImageSetOptions = {},
): Promise<ImageSet> {
  const images = await readIdx(imagesPath, 3);
  const [count, height, width] = images.dims as [number, number, number];
  let labels: Uint8Array | null = null;
  if (labelsPath !== null) {
    const l = await readIdx(labelsPath, 1);
    if (l.dims[0] !== count) {
      throw new DataError(
        'DATA_FORMAT',
        `${labelsPath}: byte offset 4: ${l.dims[0]} labels but ${imagesPath} has ${count} images`,
      );
    }
    if (opts.numClasses !== undefined) {
      const k = opts.numClasses;
      const bad = l.data.findIndex((v) => v >= k);
      if (bad >= 0) {
        throw new DataError(
          'DATA_FORMAT',
          `${labelsPath}: byte offset ${8 + bad}: label ${l.data[bad]} of image ${bad} is out of range 0..${k - 1}`,
        );
      }
    }
    labels = l.data;
  }
  return { name, shape: { height, width, channels: 1 }, count, pixels: images.data, labels };
}
