/**
 * Packs an ImageSet into WebDataset-style tar shards plus a manifest.json. Sample i (counted over
 * the whole corpus) has key `%09d` and entries `<key>.png` (lossless, 8-bit grey or RGB) and, when
 * the set has labels, `<key>.cls` (the label as decimal text).
 */
import { createHash } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';

import { PNG } from 'pngjs';

import { writeFileAtomic } from './atomic-write.js';
import { pixelsPerImage } from './corpus.js';
import type { ImageSet, ImageShape } from './corpus.js';
import { MANIFEST_FILE, SHARDS_FORMAT, SHARDS_VERSION, shardFileName } from './shard-manifest.js';
import type { ShardInfo, ShardManifest } from './shard-manifest.js';
import { writeTar } from './tar.js';
import type { TarInput } from './tar.js';

/** The sample key of corpus index `i`: nine zero-padded digits. */
export function sampleKey(i: number): string {
  return String(i).padStart(9, '0');
}

/** Encodes one image (height x width x channels bytes, channels 1 or 3) as an 8-bit PNG. */
export function encodePng(pixels: Uint8Array, shape: ImageShape): Buffer {
  const colorType = shape.channels === 1 ? 0 : 2;
  const png = new PNG({ width: shape.width, height: shape.height });
  // Same input and output colour type at 8 bits: pngjs stores the bytes as given.
  png.data = Buffer.from(pixels.buffer, pixels.byteOffset, pixels.byteLength);
  return PNG.sync.write(png, { colorType, inputColorType: colorType, inputHasAlpha: false, bitDepth: 8 });
}

/**
 * Writes `source` to `outDir` (created if needed) as shard-000000.tar, shard-000001.tar, ...
 * of `shardSize` samples each (the last may hold fewer), then manifest.json; every file goes
 * through a temporary name and a rename, and the manifest is written last, so a directory with a
 * manifest is complete. Stale shard files from an earlier, larger packing are left alone but
 * not listed. Returns the manifest.
 */
export async function packShards(
  source: ImageSet,
  outDir: string,
  shardSize: number,
): Promise<ShardManifest> {
  if (!Number.isSafeInteger(shardSize) || shardSize < 1) {
    throw new RangeError(`shardSize must be a positive integer, got ${shardSize}`);
  }
  if (source.shape.channels !== 1 && source.shape.channels !== 3) {
    throw new RangeError(`shards hold 1- or 3-channel images, got ${source.shape.channels}`);
  }
  await mkdir(outDir, { recursive: true });
  const d = pixelsPerImage(source.shape);
  const shards: ShardInfo[] = [];
  for (let first = 0; first < source.count; first += shardSize) {
    const n = Math.min(shardSize, source.count - first);
    const entries: TarInput[] = [];
    for (let i = first; i < first + n; i++) {
      const key = sampleKey(i);
      entries.push({
        name: `${key}.png`,
        data: encodePng(source.pixels.subarray(i * d, (i + 1) * d), source.shape),
      });
      if (source.labels) entries.push({ name: `${key}.cls`, data: Buffer.from(String(source.labels[i]!)) });
    }
    const tar = writeTar(entries);
    const file = shardFileName(shards.length);
    await writeFileAtomic(join(outDir, file), tar);
    shards.push({
      file,
      count: n,
      bytes: tar.length,
      sha256: createHash('sha256').update(tar).digest('hex'),
    });
  }
  const manifest: ShardManifest = {
    format: SHARDS_FORMAT,
    version: SHARDS_VERSION,
    shape: { height: source.shape.height, width: source.shape.width, channels: source.shape.channels },
    count: source.count,
    shardSize,
    hasLabels: source.labels !== null,
    shards,
  };
  await writeFileAtomic(join(outDir, MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`);
  return manifest;
}
