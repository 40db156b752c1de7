/**
 * End to end: `harmonium data pack` writes a tar-shard corpus from an IDX file, and `harmonium train`
 * trains from it; a shard that no longer matches its manifest stops training with a clear error.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { harmonium, readJson } from './cli-helpers.js';

const FMNIST = '/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz';
const tmp = mkdtempSync(join(tmpdir(), 'harmonium-data-'));

/** The first `n` Fashion-MNIST training images as a plain (not gzipped) IDX file. */
function smallIdx(n: number): string {
  const full = gunzipSync(readFileSync(FMNIST));
  const header = Buffer.from(full.subarray(0, 16));
  header.writeUInt32BE(n, 4);
  const path = join(tmp, 'small-images-idx3-ubyte');
  writeFileSync(path, Buffer.concat([header, full.subarray(16, 16 + n * 784)]));
  return path;
}

describe('harmonium data pack + train from shards', () => {
  const idx = smallIdx(250);
  const shards = join(tmp, 'shards');

  it('packs 250 images into 3 shards with a manifest', () => {
    const r = harmonium(['data', 'pack', `idx:${idx}`, '--out', shards, '--shard-size', '100']);
    assert.equal(r.status, 0, r.stderr);
    const manifest = readJson(join(shards, 'manifest.json'));
    assert.equal(manifest['count'], 250);
    const list = manifest['shards'] as { count: number; sha256: string }[];
    assert.deepEqual(
      list.map((s) => s.count),
      [100, 100, 50],
    );
    for (const s of list) assert.match(s.sha256, /^[0-9a-f]{64}$/);
  });

  it('trains an RBM from the shards', () => {
    const out = join(tmp, 'run');
    const r = harmonium([
      'train',
      '--model',
      'rbm',
      '--hidden',
      '16',
      '--data',
      `shards:${shards}`,
      '--epochs',
      '1',
      '--batch-size',
      '50',
      '--out',
      out,
    ]);
    assert.equal(r.status, 0, r.stderr);
    const s = readJson(join(out, 'summary.json'));
    assert.equal(s['images_seen'], 250);
    assert.match(String(s['dataset']), /shards/);
  });

  it('refuses a shard whose bytes changed since packing, naming the shard', () => {
    const shard = join(shards, 'shard-000001.tar');
    const bytes = readFileSync(shard);
    bytes[1000] = bytes[1000]! ^ 0xff;
    writeFileSync(shard, bytes);
    const r = harmonium(['train', '--model', 'rbm', '--data', `shards:${shards}`, '--out', join(tmp, 'bad')]);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /DATA_CHECKSUM.*shard-000001\.tar/);
  });
});
