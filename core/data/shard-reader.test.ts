import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

import type { ImageSet } from './corpus.js';
import { openShards, readShardsToImageSet } from './shard-reader.js';
import { encodePng, packShards } from './shard-writer.js';
import { writeTar } from './tar.js';
import { isDataError } from './testing.js';

function toySet(count: number, channels: 1 | 3, labeled: boolean): ImageSet {
  const shape = { height: 4, width: 3, channels };
  const d = 12 * channels;
  return {
    name: 'toy',
    shape,
    count,
    pixels: Uint8Array.from({ length: count * d }, (_, i) => (i * 73 + 11) & 0xff),
    labels: labeled ? Uint8Array.from({ length: count }, (_, i) => (i * 3) % 10) : null,
  };
}

async function packed(set: ImageSet, shardSize: number): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'harmonium-shards-'));
  await packShards(set, dir, shardSize);
  return dir;
}

async function drain<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

test('pack -> read round-trips pixels and labels bit-exactly (grey and RGB)', async () => {
  for (const [set, shardSize] of [
    [toySet(32, 1, true), 10], // 384 pixels: every byte value 0..255 occurs
    [toySet(5, 3, false), 2],
    [toySet(3, 1, true), 3],
  ] as const) {
    const back = await readShardsToImageSet(await packed(set, shardSize));
    assert.deepEqual(back.shape, set.shape);
    assert.equal(back.count, set.count);
    assert.deepEqual(back.pixels, set.pixels);
    assert.deepEqual(back.labels, set.labels);
  }
});

test('shards stream one at a time in the requested order', async () => {
  const set = toySet(10, 1, true);
  const corpus = await openShards(await packed(set, 4));
  assert.equal(corpus.numShards, 3);
  assert.equal(corpus.count, 10);
  const shards = await drain(corpus.shards([2, 0]));
  assert.deepEqual(
    shards.map((s) => [s.index, s.images.count, s.keys]),
    [
      [2, 2, ['000000008', '000000009']],
      [0, 4, ['000000000', '000000001', '000000002', '000000003']],
    ],
  );
  assert.deepEqual(shards[0]!.images.pixels, set.pixels.subarray(8 * 12, 10 * 12));
  const samples = await drain(corpus.samples([1]));
  assert.deepEqual(
    samples.map((s) => [s.key, s.shard, s.label]),
    [4, 5, 6, 7].map((i) => [String(i).padStart(9, '0'), 1, set.labels![i]]),
  );
  assert.deepEqual(samples[2]!.pixels, set.pixels.subarray(6 * 12, 7 * 12));
});

test('a changed byte fails the sha256 check before any image of that shard is yielded', async () => {
  const dir = await packed(toySet(10, 1, true), 4);
  const file = join(dir, 'shard-000001.tar');
  const bytes = readFileSync(file);
  bytes[600]! ^= 0xff;
  writeFileSync(file, bytes);
  const corpus = await openShards(dir);
  const seen: string[] = [];
  await assert.rejects(
    async () => {
      for await (const s of corpus.samples()) seen.push(s.key);
    },
    isDataError('DATA_CHECKSUM', /shard-000001\.tar: sha256 is [0-9a-f]{64}, manifest\.json says/),
  );
  assert.deepEqual(seen, ['000000000', '000000001', '000000002', '000000003']);
});

test('a shard of the wrong size fails with DATA_CHECKSUM', async () => {
  const dir = await packed(toySet(6, 1, true), 3);
  appendFileSync(join(dir, 'shard-000000.tar'), Buffer.alloc(512));
  await assert.rejects(
    readShardsToImageSet(dir),
    isDataError('DATA_CHECKSUM', /shard-000000\.tar: size is \d+ bytes, manifest\.json says/),
  );
});

test('a missing shard is DATA_NOT_FOUND naming it', async () => {
  const dir = await packed(toySet(6, 1, true), 3);
  rmSync(join(dir, 'shard-000001.tar'));
  const corpus = await openShards(dir);
  await corpus.readShard(0);
  await assert.rejects(
    corpus.readShard(1),
    isDataError('DATA_NOT_FOUND', /shard-000001\.tar: shard file listed in manifest\.json is missing/),
  );
});

test('bad manifests are rejected naming manifest.json and the field', async () => {
  const dir = await packed(toySet(6, 1, true), 3);
  const path = join(dir, 'manifest.json');
  const good = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  const shards = good.shards as Record<string, unknown>[];
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ ...good, format: 'webdataset' }, /field "format"/],
    [{ ...good, version: 2 }, /field "version": expected 1, got 2/],
    [{ ...good, shape: { height: 4, width: 3, channels: 2 } }, /field "shape.channels": expected 1 or 3/],
    [{ ...good, shape: { height: 0, width: 3, channels: 1 } }, /field "shape.height"/],
    [{ ...good, count: 7 }, /field "count": 7 but the shards hold 6/],
    [{ ...good, hasLabels: 'yes' }, /field "hasLabels"/],
    [{ ...good, shards: {} }, /field "shards": expected an array/],
    [{ ...good, shards: [shards[0], { ...shards[1], sha256: 'abc' }] }, /field "shards\[1\]\.sha256"/],
    [
      { ...good, shards: [{ ...shards[0], file: '../escape.tar' }, shards[1]] },
      /field "shards\[0\]\.file": expected a plain file name/,
    ],
    [{ ...good, shards: [shards[0], shards[0]] }, /field "shards\[1\]\.file": .* listed twice/],
    [{ ...good, shardSize: 2 }, /field "shards\[0\]\.count": 3 exceeds shardSize 2/],
  ];
  for (const [manifest, pattern] of cases) {
    writeFileSync(path, JSON.stringify(manifest));
    await assert.rejects(
      openShards(dir),
      isDataError('DATA_FORMAT', new RegExp(`manifest\\.json: ${pattern.source}`)),
    );
  }
  writeFileSync(path, '{"format": ');
  await assert.rejects(openShards(dir), isDataError('DATA_FORMAT', /manifest\.json: not valid JSON/));
  rmSync(path);
  await assert.rejects(openShards(dir), isDataError('DATA_NOT_FOUND', /manifest\.json: no such file/));
});

/** A one-shard corpus whose tar holds `entries`, with a manifest that matches the bytes. */
function handMade(entries: { name: string; data: Uint8Array }[], count: number, hasLabels: boolean): string {
  const dir = mkdtempSync(join(tmpdir(), 'harmonium-shards-'));
  const tar = writeTar(entries);
  writeFileSync(join(dir, 'shard-000000.tar'), tar);
  const sha256 = createHash('sha256').update(tar).digest('hex');
  const manifest = {
    format: 'harmonium-shards',
    version: 1,
    shape: { height: 4, width: 3, channels: 1 },
    count,
    shardSize: count,
    hasLabels,
    shards: [{ file: 'shard-000000.tar', count, bytes: tar.length, sha256 }],
  };
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify(manifest));
  return dir;
}

test('a bad sample names the shard file and the entry', async () => {
  const shape = { height: 4, width: 3, channels: 1 };
  const good = encodePng(new Uint8Array(12).fill(5), shape);
  const badPng = handMade(
    [
      { name: '000000000.png', data: good },
      { name: '000000001.png', data: good.subarray(0, 30) },
    ],
    2,
    false,
  );
  await assert.rejects(
    readShardsToImageSet(badPng),
    isDataError('IMAGE_DECODE', /shard-000000\.tar: entry 000000001\.png: cannot decode/),
  );
  const wrongSize = handMade(
    [{ name: 'k.png', data: encodePng(new Uint8Array(9), { ...shape, height: 3 }) }],
    1,
    false,
  );
  await assert.rejects(
    readShardsToImageSet(wrongSize),
    isDataError('IMAGE_DECODE', /shard-000000\.tar: entry k\.png: image is 3x3, manifest\.json says 3x4/),
  );
  const badLabel = handMade(
    [
      { name: 'a.png', data: good },
      { name: 'a.cls', data: Buffer.from('ten') },
    ],
    1,
    true,
  );
  await assert.rejects(
    readShardsToImageSet(badLabel),
    isDataError('DATA_FORMAT', /shard-000000\.tar: entry a\.cls: label "ten"/),
  );
  const noLabel = handMade([{ name: 'a.png', data: good }], 1, true);
  await assert.rejects(
    readShardsToImageSet(noLabel),
    isDataError('DATA_FORMAT', /shard-000000\.tar: sample a has no \.cls/),
  );
  const wrongCount = handMade([{ name: 'a.png', data: good }], 2, false);
  await assert.rejects(
    readShardsToImageSet(wrongCount),
    isDataError('DATA_FORMAT', /shard-000000\.tar: holds 1 samples, manifest\.json says 2/),
  );
});
