import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { gzipSync } from 'node:zlib';

import { PNG } from 'pngjs';

import { FASHION_MNIST_SYSTEM_DIR } from './fashion-mnist.js';
import { openCorpus } from './open-corpus.js';
import { packShards } from './shard-writer.js';
import { ConfigError } from '../errors.js';

function idx(dims: readonly number[], data: Uint8Array): Buffer {
  const head = Buffer.alloc(4 + 4 * dims.length);
  head[2] = 0x08;
  head[3] = dims.length;
  dims.forEach((d, i) => head.writeUInt32BE(d, 4 + 4 * i));
  return Buffer.concat([head, data]);
}

const tmp = (): string => mkdtempSync(join(tmpdir(), 'harmonium-open-'));

function isConfigError(pattern: RegExp): (e: unknown) => boolean {
  return (e) => {
    assert.ok(e instanceof ConfigError, `expected ConfigError, got ${String(e)}`);
    assert.equal(e.field, 'data');
    assert.match(e.message, pattern);
    return true;
  };
}

test('unknown or incomplete specs are ConfigErrors on "data" listing the accepted forms', async () => {
  for (const spec of ['mnist', 'csv:/x', 'fashion_mnist', '']) {
    await assert.rejects(openCorpus(spec), isConfigError(/fashion-mnist, idx:PATH .*images:DIR, shards:DIR/));
  }
  await assert.rejects(openCorpus('idx:'), isConfigError(/needs a path/));
  await assert.rejects(openCorpus(`images:${tmp()}`), isConfigError(/needs an image size/));
});

test('idx:PATH finds labels and the test split by MNIST naming', async () => {
  const dir = tmp();
  writeFileSync(
    join(dir, 'emnist-letters-train-images-idx3-ubyte.gz'),
    gzipSync(idx([3, 2, 2], new Uint8Array(12).fill(1))),
  );
  writeFileSync(join(dir, 'emnist-letters-train-labels-idx1-ubyte'), idx([3], Uint8Array.from([1, 2, 3])));
  writeFileSync(
    join(dir, 'emnist-letters-test-images-idx3-ubyte'),
    idx([2, 2, 2], new Uint8Array(8).fill(2)),
  );
  const c = await openCorpus(`idx:${join(dir, 'emnist-letters-train-images-idx3-ubyte.gz')}`);
  assert.equal(c.train.count, 3);
  assert.deepEqual([...c.train.labels!], [1, 2, 3]);
  assert.equal(c.test?.count, 2);
  assert.equal(c.test?.labels, null, 'the test split has no labels file');
  assert.match(c.source, /test split .*emnist-letters-test-images-idx3-ubyte/);

  const alone = tmp();
  writeFileSync(join(alone, 'digits.idx'), idx([1, 2, 2], new Uint8Array(4)));
  const d = await openCorpus(`idx:${join(alone, 'digits.idx')}`);
  assert.equal(d.train.labels, null);
  assert.equal(d.test, null);
});

test('images:DIR and shards:DIR', async () => {
  const dir = tmp();
  mkdirSync(join(dir, 'cat'));
  const png = new PNG({ width: 4, height: 4 });
  png.data.fill(200);
  writeFileSync(join(dir, 'cat', 'a.png'), PNG.sync.write(png));
  const images = await openCorpus(`images:${dir}`, { imageShape: { height: 2, width: 2, channels: 1 } });
  assert.deepEqual([...images.train.pixels], [200, 200, 200, 200]);
  assert.deepEqual([...images.train.labels!], [0]);
  assert.equal(images.test, null);

  const shards = tmp();
  await packShards(images.train, shards, 1);
  const s = await openCorpus(`shards:${shards}`);
  assert.deepEqual(s.train.pixels, images.train.pixels);
  assert.deepEqual(s.train.labels, images.train.labels);
  assert.match(s.source, /shards/);
});

test('fashion-mnist', { skip: !existsSync(FASHION_MNIST_SYSTEM_DIR) && 'not installed' }, async () => {
  const c = await openCorpus('fashion-mnist', { fashionMnist: { download: false, cacheDir: tmp() } });
  assert.equal(c.train.count, 60000);
  assert.equal(c.test?.count, 10000);
});
