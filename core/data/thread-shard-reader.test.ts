/** Shards decoded on their own thread arrive as the corpus itself reads them, errors as DataErrors. */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, it } from 'node:test';

import { openShards } from './shard-reader.js';
import { packShards } from './shard-writer.js';
import { isDataError, startFileServer } from './testing.js';
import { ThreadShardReader } from './thread-shard-reader.js';

const dir = mkdtempSync(join(tmpdir(), 'harmonium-thread-shards-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const set = {
  name: 'toy',
  shape: { height: 4, width: 3, channels: 1 as const },
  count: 25,
  pixels: Uint8Array.from({ length: 25 * 12 }, (_, i) => (i * 37 + 5) & 0xff),
  labels: Uint8Array.from({ length: 25 }, (_, i) => i % 10),
};

it('a decode thread reads a directory and a URL as the corpus does, and names a corrupted shard', async () => {
  await packShards(set, dir, 10);
  const corpus = await openShards(dir);
  const server = await startFileServer(dir);
  const readers = [
    new ThreadShardReader(dir, set.shape, {}),
    new ThreadShardReader(server.url, set.shape, { shardCacheMb: 0 }),
  ];
  try {
    for (const reader of readers) {
      // Requests in flight together come back each to its own caller.
      const shards = await Promise.all([2, 0, 1].map((i) => reader.readShard(i)));
      for (const s of shards) {
        const own = await corpus.readShard(s.index);
        assert.deepEqual(s.keys, own.keys);
        assert.deepEqual(s.images, { ...own.images, name: s.images.name });
      }
    }
    const file = join(dir, 'shard-000001.tar');
    const bytes = readFileSync(file);
    bytes[600] = bytes[600]! ^ 0xff;
    writeFileSync(file, bytes);
    await assert.rejects(
      readers[0]!.readShard(1),
      isDataError('DATA_CHECKSUM', /shard-000001\.tar: sha256 is/),
    );
    await assert.rejects(
      readers[1]!.readShard(1),
      isDataError('DATA_CHECKSUM', /^http:\/\/127\.0\.0\.1:\d+\/corpus\/shard-000001\.tar: sha256 is/),
    );
  } finally {
    for (const r of readers) await r.close();
    await server.close();
  }
  await assert.rejects(readers[0]!.readShard(0), isDataError('IO', /decode thread exited/));
});

it('the thread starts with the first read, stops when idle and starts again for the next', async () => {
  const corpus = await openShards(dir);
  const reader = new ThreadShardReader(dir, set.shape, {}, 100);
  try {
    assert.equal(reader.running, false);
    const first = await reader.readShard(0);
    assert.equal(reader.running, true);
    await new Promise((resolve) => setTimeout(resolve, 400));
    assert.equal(reader.running, false);
    const again = await reader.readShard(0);
    assert.deepEqual(again.images.pixels, first.images.pixels);
    assert.deepEqual(again.keys, (await corpus.readShard(0)).keys);
  } finally {
    await reader.close();
  }
});
