/**
 * A sharded corpus read over HTTP from a real server on 127.0.0.1 (core/data/testing.ts): in ranges,
 * resumed after a dropped connection, verified before use, with clear errors for a corrupted shard,
 * a stalled server, a missing file, a failing server and an untrusted HTTPS certificate, and a cache
 * that stays within its bound.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import { createCertificates } from '../security/certificate-authority.js';
import type { ImageSet } from './corpus.js';
import { ShardCache } from './shard-cache.js';
import { openShards } from './shard-reader.js';
import { packShards } from './shard-writer.js';
import { isDataError, startFileServer, type FileServer } from './testing.js';

const SHARD_SIZE = 40;
const SHARDS = 5;

function images(count: number): ImageSet {
  const shape = { height: 6, width: 5, channels: 1 as const };
  return {
    name: 'toy',
    shape,
    count,
    // Noise-like bytes, so that PNG compression leaves shards of a few KiB.
    pixels: Uint8Array.from({ length: count * 30 }, (_, i) => (Math.imul(i, 2654435761) >>> 13) & 0xff),
    labels: Uint8Array.from({ length: count }, (_, i) => i % 10),
  };
}

let dir = '';
let server: FileServer;
let local: ImageSet;
const temps: string[] = [];

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'harmonium-http-shards-'));
  temps.push(d);
  return d;
}

before(async () => {
  dir = tempDir();
  await packShards(images(SHARD_SIZE * SHARDS), dir, SHARD_SIZE);
  local = await (await openShards(dir)).readImages();
  server = await startFileServer(dir);
});

after(async () => {
  await server.close();
  for (const d of temps) rmSync(d, { recursive: true, force: true });
});

function shardBytes(i: number): number {
  return readFileSync(join(dir, `shard-00000${i}.tar`)).length;
}

describe('shards over HTTP', () => {
  it('reads every shard in ranges smaller than a shard, bit for bit what the directory holds', async () => {
    server.requests.length = 0;
    const corpus = await openShards(server.url, { rangeBytes: 1000 });
    assert.equal(corpus.location, server.url);
    const back = await corpus.readImages();
    assert.deepEqual(back.pixels, local.pixels);
    assert.deepEqual(back.labels, local.labels);
    const first = server.requests.filter((r) => r.file === 'shard-000000.tar');
    assert.equal(first.length, Math.ceil(shardBytes(0) / 1000));
    assert.deepEqual(first[1]!.range, [1000, 1999]);
  });

  it('a connection dropped mid-shard resumes at the byte it reached', async () => {
    server.requests.length = 0;
    server.faults.set('shard-000002.tar', { kind: 'reset', afterBytes: 700, times: 1 });
    const corpus = await openShards(server.url);
    const shard = await corpus.readShard(2);
    assert.deepEqual(shard.images.pixels, local.pixels.subarray(2 * SHARD_SIZE * 30, 3 * SHARD_SIZE * 30));
    const tries = server.requests.filter((r) => r.file === 'shard-000002.tar');
    assert.equal(tries.length, 2);
    assert.ok(tries[1]!.range![0] >= 700 - 16 && tries[1]!.range![0] <= 700, JSON.stringify(tries));
  });

  it('a server that ignores Range still serves a shard whole; a 503 once is retried', async () => {
    server.faults.set('shard-000001.tar', { kind: 'ignore-range' });
    server.faults.set('shard-000003.tar', { kind: 'status', status: 503, times: 1 });
    const corpus = await openShards(server.url, { rangeBytes: 1000 });
    try {
      assert.equal((await corpus.readShard(1)).images.count, SHARD_SIZE);
      assert.equal((await corpus.readShard(3)).images.count, SHARD_SIZE);
    } finally {
      server.faults.clear();
    }
  });

  it('a corrupted shard is DATA_CHECKSUM naming its URL, before any image is decoded', async () => {
    const copy = tempDir();
    await packShards(images(SHARD_SIZE * 2), copy, SHARD_SIZE);
    const file = join(copy, 'shard-000001.tar');
    const bytes = readFileSync(file);
    bytes[bytes.length - 1030] = bytes[bytes.length - 1030]! ^ 0x40;
    writeFileSync(file, bytes);
    const bad = await startFileServer(copy);
    try {
      const corpus = await openShards(bad.url);
      await corpus.readShard(0);
      await assert.rejects(
        corpus.readShard(1),
        isDataError(
          'DATA_CHECKSUM',
          new RegExp(`^${bad.url}shard-000001\\.tar: sha256 is [0-9a-f]{64}, manifest`),
        ),
      );
    } finally {
      await bad.close();
    }
  });

  it('a shard of another size on the server than in the manifest is DATA_CHECKSUM naming its URL', async () => {
    const copy = tempDir();
    await packShards(images(SHARD_SIZE * 2), copy, SHARD_SIZE);
    const file = join(copy, 'shard-000001.tar');
    writeFileSync(file, readFileSync(file).subarray(0, 500));
    const short = await startFileServer(copy);
    try {
      const corpus = await openShards(short.url, { rangeBytes: 1000 });
      await assert.rejects(
        corpus.readShard(1),
        isDataError('DATA_CHECKSUM', /shard-000001\.tar: size is 500 bytes, manifest\.json says \d+$/),
      );
    } finally {
      await short.close();
    }
  });

  it('a server that stalls fails with DATA_TIMEOUT naming the URL after its retries, not a hang', async () => {
    server.faults.set('shard-000004.tar', { kind: 'stall', afterBytes: 100 });
    const corpus = await openShards(server.url, { stallMs: 300, retries: 1 });
    const started = performance.now();
    try {
      await assert.rejects(
        corpus.readShard(4),
        isDataError('DATA_TIMEOUT', /shard-000004\.tar: no data for 300 ms .*\(gave up after 2 attempts\)/),
      );
    } finally {
      server.faults.clear();
    }
    // Two stalls of 300 ms and one 200 ms backoff.
    assert.ok(performance.now() - started < 3000, `${performance.now() - started} ms`);
  });

  it('a missing manifest or shard is DATA_NOT_FOUND naming the URL; a failing server DATA_UNAVAILABLE', async () => {
    await assert.rejects(
      openShards(`${server.url}nowhere/`),
      isDataError('DATA_NOT_FOUND', /corpus\/nowhere\/manifest\.json: HTTP 404/),
    );
    const gone = tempDir();
    await packShards(images(SHARD_SIZE * 2), gone, SHARD_SIZE);
    rmSync(join(gone, 'shard-000001.tar'));
    const partial = await startFileServer(gone);
    try {
      const corpus = await openShards(partial.url);
      await assert.rejects(
        corpus.readShard(1),
        isDataError(
          'DATA_NOT_FOUND',
          /\/corpus\/shard-000001\.tar: HTTP 404 \(shard listed in manifest\.json\)/,
        ),
      );
      partial.faults.set('shard-000000.tar', { kind: 'status', status: 500, times: 10 });
      await assert.rejects(
        (await openShards(partial.url, { retries: 2 })).readShard(0),
        isDataError('DATA_UNAVAILABLE', /shard-000000\.tar: HTTP 500 .*\(gave up after 3 attempts\)/),
      );
      partial.faults.set('shard-000000.tar', { kind: 'status', status: 403, times: 10 });
      await assert.rejects(
        (await openShards(partial.url)).readShard(0),
        isDataError('DATA_UNAVAILABLE', /shard-000000\.tar: HTTP 403 Forbidden$/),
      );
    } finally {
      await partial.close();
    }
  });

  it('an HTTPS server signed by a CA we do not trust is DATA_UNAVAILABLE at once, naming the URL, why and the fix', async () => {
    const certs = tempDir();
    await createCertificates(certs);
    const tls = await startFileServer(dir, {
      cert: readFileSync(join(certs, 'tls.crt')),
      key: readFileSync(join(certs, 'tls.key')),
    });
    try {
      const started = performance.now();
      await assert.rejects(
        openShards(tls.url, { retries: 4 }),
        isDataError(
          'DATA_UNAVAILABLE',
          /^https:\/\/127\.0\.0\.1:\d+\/corpus\/manifest\.json: the server's TLS certificate is not trusted: .*\((SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT_LOCALLY)\); for a private CA, start Harmonium with NODE_EXTRA_CA_CERTS=/,
        ),
      );
      // No retry makes a certificate trusted: four retries would have slept 3 s between them.
      assert.ok(performance.now() - started < 2000, `${performance.now() - started} ms`);
      assert.equal(tls.requests.length, 0, 'no request got past the handshake');
    } finally {
      await tls.close();
    }
  });

  it('a refused connection names its cause, not only "fetch failed"', async () => {
    const closed = await startFileServer(dir);
    const url = closed.url;
    await closed.close();
    await assert.rejects(
      openShards(url, { retries: 0 }),
      isDataError('DATA_UNAVAILABLE', /manifest\.json: .*ECONNREFUSED.*\(gave up after 1 attempts\)/),
    );
  });

  it('the cache never holds more than its bound, serves later reads from disk and drops a corrupted file', async () => {
    const bound = Math.floor(2.5 * shardBytes(0));
    const cache = new ShardCache(tempDir(), bound);
    const corpus = await openShards(server.url, { cache });
    server.requests.length = 0;
    for (const i of [0, 1, 2, 3, 4]) {
      await corpus.readShard(i);
      assert.ok((await cache.bytes()) <= bound, `${await cache.bytes()} > ${bound} after shard ${i}`);
    }
    const fetched = server.requests.length;
    // The two most recent shards are cached: reading them again asks the server nothing.
    await corpus.readShard(4);
    await corpus.readShard(3);
    assert.equal(server.requests.length, fetched);
    const info = corpus.manifest.shards[4]!;
    const file = join(cache.dir, `${info.sha256}.shard`);
    const bytes = readFileSync(file);
    bytes[10] = bytes[10]! ^ 1;
    writeFileSync(file, bytes);
    const again = await corpus.readShard(4);
    assert.equal(again.images.count, SHARD_SIZE);
    assert.equal(server.requests.length, fetched + 1);
    assert.ok((await cache.bytes()) <= bound);
  });
});
