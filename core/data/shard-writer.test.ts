import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

import { PNG } from 'pngjs';

import type { ImageSet } from './corpus.js';
import { packShards } from './shard-writer.js';
import { readTar } from './tar.js';

function toySet(count: number, channels: 1 | 3, labeled: boolean): ImageSet {
  const shape = { height: 3, width: 5, channels };
  const d = 15 * channels;
  return {
    name: 'toy',
    shape,
    count,
    pixels: Uint8Array.from({ length: count * d }, (_, i) => (i * 31 + 7) & 0xff),
    labels: labeled ? Uint8Array.from({ length: count }, (_, i) => (i * 7) % 10) : null,
  };
}

test('writes shard-size shards (last smaller), WebDataset entries and a manifest', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'harmonium-shards-'));
  const set = toySet(7, 1, true);
  const manifest = await packShards(set, dir, 3);
  assert.deepEqual(readdirSync(dir).sort(), [
    'manifest.json',
    'shard-000000.tar',
    'shard-000001.tar',
    'shard-000002.tar',
  ]);
  assert.deepEqual(JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')), manifest);
  assert.equal(manifest.format, 'harmonium-shards');
  assert.equal(manifest.version, 1);
  assert.deepEqual(manifest.shape, { height: 3, width: 5, channels: 1 });
  assert.equal(manifest.count, 7);
  assert.equal(manifest.shardSize, 3);
  assert.equal(manifest.hasLabels, true);
  assert.deepEqual(
    manifest.shards.map((s) => s.count),
    [3, 3, 1],
  );
  for (const s of manifest.shards) {
    const bytes = readFileSync(join(dir, s.file));
    assert.equal(s.bytes, bytes.length);
    assert.equal(s.sha256, createHash('sha256').update(bytes).digest('hex'));
  }
  const second = [...readTar(readFileSync(join(dir, 'shard-000001.tar')), 'shard-000001.tar')];
  assert.deepEqual(
    second.map((e) => e.name),
    ['000000003.png', '000000003.cls', '000000004.png', '000000004.cls', '000000005.png', '000000005.cls'],
  );
  assert.equal(Buffer.from(second[1]!.data).toString(), String(set.labels![3]));
  const png = PNG.sync.read(Buffer.from(second[0]!.data));
  assert.equal(png.colorType, 0, 'grey images are stored as grey PNGs');
  assert.equal(png.depth, 8);
  assert.equal(png.width, 5);
  assert.equal(png.height, 3);
});

test('unlabeled RGB sets have no .cls entries; packing is deterministic', async () => {
  const a = mkdtempSync(join(tmpdir(), 'harmonium-shards-'));
  const b = mkdtempSync(join(tmpdir(), 'harmonium-shards-'));
  const set = toySet(4, 3, false);
  const ma = await packShards(set, a, 4);
  const mb = await packShards(set, b, 4);
  assert.deepEqual(ma, mb);
  assert.equal(ma.hasLabels, false);
  const entries = [...readTar(readFileSync(join(a, 'shard-000000.tar')), 'x')];
  assert.deepEqual(
    entries.map((e) => e.name),
    ['000000000.png', '000000001.png', '000000002.png', '000000003.png'],
  );
  assert.equal(
    PNG.sync.read(Buffer.from(entries[0]!.data)).colorType,
    2,
    'RGB images are stored as RGB PNGs',
  );
});

test('shardSize must be a positive integer', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'harmonium-shards-'));
  await assert.rejects(packShards(toySet(2, 1, false), dir, 0), RangeError);
});
