import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { gzipSync } from 'node:zlib';

import { FASHION_MNIST_SYSTEM_DIR, loadFashionMnist, locateFashionMnist } from './fashion-mnist.js';
import { idx, isDataError } from './testing.js';

const tmp = (): string => mkdtempSync(join(tmpdir(), 'harmonium-fmnist-'));

/** A tiny stand-in for the published files: 5 train and 2 test images of 28x28. */
const FAKE: Record<string, Buffer> = {
  'train-images-idx3-ubyte.gz': gzipSync(idx([5, 28, 28], new Uint8Array(5 * 784).fill(3))),
  'train-labels-idx1-ubyte.gz': gzipSync(idx([5], Uint8Array.from([0, 1, 2, 3, 9]))),
  't10k-images-idx3-ubyte.gz': gzipSync(idx([2, 28, 28], new Uint8Array(2 * 784).fill(4))),
  't10k-labels-idx1-ubyte.gz': gzipSync(idx([2], Uint8Array.from([5, 6]))),
};
const FAKE_MD5 = Object.fromEntries(
  Object.entries(FAKE).map(([k, v]) => [k, createHash('md5').update(v).digest('hex')]),
);

/** A loopback server: /good/<file> serves FAKE, /corrupt/<file> wrong bytes, /hang/ never answers. */
const requests: string[] = [];
const server: Server = createServer((req, res) => {
  const url = req.url ?? '';
  requests.push(url);
  const file = url.slice(url.lastIndexOf('/') + 1);
  if (url.startsWith('/hang/')) return;
  const body = FAKE[file];
  if (url.startsWith('/good/') && body) res.end(body);
  else if (url.startsWith('/corrupt/') && body) res.end(Buffer.concat([body, Buffer.from('x')]));
  else res.writeHead(404).end();
});
await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
after(() => {
  server.closeAllConnections();
  server.close();
});

test('missing everywhere with downloads off: DATA_NOT_FOUND saying how to get the files', async () => {
  const empty = tmp();
  const cache = join(tmp(), 'cache');
  await assert.rejects(
    locateFashionMnist({ searchDirs: [empty], cacheDir: cache, download: false }),
    isDataError(
      'DATA_NOT_FOUND',
      new RegExp(`${empty}.*${cache}.*downloading is disabled.*apt-get install dataset-fashion-mnist`),
    ),
  );
});

test('downloads missing files into the cache, skipping a bad mirror, verified by MD5', async () => {
  const cache = join(tmp(), 'nested', 'cache');
  const opts = {
    searchDirs: [tmp()],
    cacheDir: cache,
    mirrors: [`${base}/missing/`, `${base}/good/`],
    md5: FAKE_MD5,
  };
  requests.length = 0;
  const found = await locateFashionMnist(opts);
  assert.equal(found.dir, cache);
  assert.equal(found.trainImages, join(cache, 'train-images-idx3-ubyte.gz'));
  assert.deepEqual(readdirSync(cache).sort(), Object.keys(FAKE).sort(), 'no temporary files are left');
  assert.equal(requests.length, 8);
  const { train, test: t } = await loadFashionMnist({ ...opts, download: false });
  assert.equal(train.count, 5);
  assert.deepEqual([...t.labels!], [5, 6]);
  await locateFashionMnist(opts);
  assert.equal(requests.length, 8, 'a filled cache is not downloaded again');
});

test('a download with the wrong MD5 is not kept', async () => {
  const cache = tmp();
  await assert.rejects(
    locateFashionMnist({ searchDirs: [], cacheDir: cache, mirrors: [`${base}/corrupt/`], md5: FAKE_MD5 }),
    isDataError('DATA_NOT_FOUND', /corrupt\/train-images-idx3-ubyte\.gz: MD5 [0-9a-f]+, expected/),
  );
  assert.deepEqual(readdirSync(cache), []);
});

test('a mirror that does not answer times out', async () => {
  const t0 = Date.now();
  await assert.rejects(
    locateFashionMnist({ searchDirs: [], cacheDir: tmp(), mirrors: [`${base}/hang/`], timeoutMs: 200 }),
    isDataError('DATA_NOT_FOUND', /hang\/train-images-idx3-ubyte\.gz/),
  );
  assert.ok(Date.now() - t0 < 5000);
});

test(
  'finds and loads the installed Debian package files',
  { skip: !existsSync(FASHION_MNIST_SYSTEM_DIR) && `${FASHION_MNIST_SYSTEM_DIR} not installed` },
  async () => {
    const opts = { cacheDir: tmp(), download: false };
    const found = await locateFashionMnist(opts);
    assert.equal(found.dir, FASHION_MNIST_SYSTEM_DIR);
    const { train, test: t } = await loadFashionMnist(opts);
    assert.equal(train.name, 'fashion-mnist/train');
    assert.equal(train.count, 60000);
    assert.deepEqual(train.shape, { height: 28, width: 28, channels: 1 });
    assert.equal(train.pixels.length, 60000 * 784);
    const perClass = new Array<number>(10).fill(0);
    for (const l of train.labels!) perClass[l]!++;
    assert.deepEqual(perClass, new Array<number>(10).fill(6000));
    assert.equal(t.count, 10000);
    assert.equal(t.labels!.length, 10000);
    assert.ok(t.labels!.every((l) => l <= 9));
    assert.ok(train.pixels.subarray(0, 784 * 100).includes(255), 'images are not blank');
  },
);
