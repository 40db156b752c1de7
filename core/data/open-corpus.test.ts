import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { gzipSync } from 'node:zlib';

import { PNG } from 'pngjs';

import type { ImageSet } from './corpus.js';
import { FASHION_MNIST_SYSTEM_DIR } from './fashion-mnist.js';
import { evaluationTrainSet, openCorpus, openTestSet, ShardCorpus } from './open-corpus.js';
import type { OpenedCorpus } from './open-corpus.js';
import { packShards } from './shard-writer.js';
import { ConfigError } from '../errors.js';
import { idx } from './testing.js';

const tmp = (): string => mkdtempSync(join(tmpdir(), 'harmonium-open-'));

/** The training split of a corpus held in memory. */
function inMemory(c: OpenedCorpus): ImageSet {
  assert.ok(!(c.train instanceof ShardCorpus), `${c.source} is streamed`);
  return c.train;
}

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
  assert.deepEqual([...inMemory(c).labels!], [1, 2, 3]);
  assert.equal(c.test?.count, 2);
  assert.equal(c.test?.labels, null, 'the test split has no labels file');
  assert.match(c.source, /test split .*emnist-letters-test-images-idx3-ubyte/);

  const alone = tmp();
  writeFileSync(join(alone, 'digits.idx'), idx([1, 2, 2], new Uint8Array(4)));
  const d = await openCorpus(`idx:${join(alone, 'digits.idx')}`);
  assert.equal(inMemory(d).labels, null);
  assert.equal(d.test, null);
});

test('images:DIR is read into memory, shards:DIR only opened', async () => {
  const dir = tmp();
  mkdirSync(join(dir, 'cat'));
  const png = new PNG({ width: 4, height: 4 });
  png.data.fill(200);
  writeFileSync(join(dir, 'cat', 'a.png'), PNG.sync.write(png));
  const images = await openCorpus(`images:${dir}`, { imageShape: { height: 2, width: 2, channels: 1 } });
  const folder = inMemory(images);
  assert.deepEqual([...folder.pixels], [200, 200, 200, 200]);
  assert.deepEqual([...folder.labels!], [0]);
  assert.equal(images.test, null);

  const shards = tmp();
  await packShards(folder, shards, 1);
  const s = await openCorpus(`shards:${shards}`);
  assert.ok(s.train instanceof ShardCorpus);
  assert.equal(s.train.count, 1);
  const back = await s.train.readImages();
  assert.deepEqual(back.pixels, folder.pixels);
  assert.deepEqual(back.labels, folder.labels);
  assert.match(s.source, /shards/);
});

test('evaluationTrainSet reads back only the first shards of a streamed corpus', async () => {
  const count = 25;
  const set: ImageSet = {
    name: 'toy',
    shape: { height: 2, width: 2, channels: 1 },
    count,
    pixels: Uint8Array.from({ length: count * 4 }, (_, i) => i & 0xff),
    labels: Uint8Array.from({ length: count }, (_, i) => i % 3),
  };
  const dir = tmp();
  await packShards(set, dir, 10);
  const c = await openCorpus(`shards:${dir}`);
  assert.ok(c.train instanceof ShardCorpus);
  const corpus = c.train;
  const read: number[] = [];
  const readShard = corpus.readShard.bind(corpus);
  corpus.readShard = (i) => (read.push(i), readShard(i));
  const first = await evaluationTrainSet(corpus, 12);
  assert.equal(first.count, 12);
  assert.deepEqual(first.pixels, set.pixels.subarray(0, 48));
  assert.deepEqual(first.labels, set.labels!.subarray(0, 12));
  assert.deepEqual(read, [0, 1]);
  assert.equal(await evaluationTrainSet(set, 0), set);
  assert.equal((await evaluationTrainSet(set, 5)).count, 5);
});

test('openTestSet: the held-out split, else all the images; checks the shape', async () => {
  const dir = tmp();
  writeFileSync(join(dir, 'x-train-images-idx3-ubyte'), idx([3, 2, 2], new Uint8Array(12).fill(1)));
  writeFileSync(join(dir, 'x-t10k-images-idx3-ubyte'), idx([2, 2, 2], new Uint8Array(8).fill(2)));
  const grey2x2 = { height: 2, width: 2, channels: 1 };
  const held = await openTestSet(`idx:${join(dir, 'x-train-images-idx3-ubyte')}`, grey2x2);
  assert.equal(held.count, 2);
  const whole = await openTestSet(`idx:${join(dir, 'x-t10k-images-idx3-ubyte')}`, grey2x2);
  assert.equal(whole.count, 2);
  const shards = tmp();
  await packShards(
    { name: 't', shape: grey2x2, count: 3, pixels: new Uint8Array(12), labels: null },
    shards,
    2,
  );
  assert.equal((await openTestSet(`shards:${shards}`, grey2x2)).count, 3);
  await assert.rejects(
    openTestSet(`shards:${shards}`, { height: 28, width: 28, channels: 1 }),
    (e: unknown) => e instanceof ConfigError && e.field === 'test-data' && /2x2x1.*28x28x1/.test(e.message),
  );
  await assert.rejects(
    openTestSet('csv:/x', grey2x2),
    (e: unknown) => e instanceof ConfigError && e.field === 'test-data',
  );
});

test('fashion-mnist', { skip: !existsSync(FASHION_MNIST_SYSTEM_DIR) && 'not installed' }, async () => {
  const c = await openCorpus('fashion-mnist', { fashionMnist: { download: false, cacheDir: tmp() } });
  assert.equal(c.train.count, 60000);
  assert.equal(c.test?.count, 10000);
});
