import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { gzipSync } from 'node:zlib';

import { MAX_IDX_BYTES, maybeGunzip, readIdxImageSet } from './idx-reader.js';
import { idx, isDataError } from './testing.js';

const dir = mkdtempSync(join(tmpdir(), 'harmonium-idx-'));
const pixels = Uint8Array.from({ length: 3 * 2 * 4 }, (_, i) => (i * 37) & 0xff);
const labels = Uint8Array.from([4, 0, 9]);

function write(name: string, bytes: Uint8Array): string {
  const p = join(dir, name);
  writeFileSync(p, bytes);
  return p;
}

test('reads plain and gzipped IDX files (gzip detected by magic, not name)', async () => {
  const plainImages = write('a-images-idx3-ubyte', idx([3, 2, 4], pixels));
  const plainLabels = write('a-labels-idx1-ubyte', idx([3], labels));
  // Gzipped but named without .gz, and the other way round.
  const gzImages = write('b-images-idx3-ubyte', gzipSync(idx([3, 2, 4], pixels)));
  const gzLabels = write('b-labels-idx1-ubyte.gz', gzipSync(idx([3], labels)));
  for (const [im, lb] of [
    [plainImages, plainLabels],
    [gzImages, gzLabels],
  ] as const) {
    const set = await readIdxImageSet(im, lb, 'toy', { numClasses: 10 });
    assert.equal(set.name, 'toy');
    assert.deepEqual(set.shape, { height: 2, width: 4, channels: 1 });
    assert.equal(set.count, 3);
    assert.deepEqual([...set.pixels], [...pixels]);
    assert.deepEqual([...set.labels!], [...labels]);
  }
  const unlabeled = await readIdxImageSet(plainImages, null, 'toy');
  assert.equal(unlabeled.labels, null);
});

test('truncated data reports expected vs actual bytes', async () => {
  const p = write('trunc-images', idx([3, 2, 4], pixels).subarray(0, 16 + 20));
  await assert.rejects(
    readIdxImageSet(p, null, 't'),
    isDataError('DATA_CORRUPT', /trunc-images: truncated data.* need 40 bytes.*file has 36/),
  );
  const head = write('trunc-header', idx([3, 2, 4], pixels).subarray(0, 9));
  await assert.rejects(
    readIdxImageSet(head, null, 't'),
    isDataError('DATA_CORRUPT', /trunc-header: truncated IDX header/),
  );
  const gzTrunc = write('trunc-gz', gzipSync(idx([3, 2, 4], pixels)).subarray(0, 20));
  await assert.rejects(
    readIdxImageSet(gzTrunc, null, 't'),
    isDataError('DATA_CORRUPT', /trunc-gz: corrupt gzip/),
  );
});

test('wrong magic, unsupported type and wrong dimensions name the byte offset', async () => {
  const bad = idx([3, 2, 4], pixels);
  bad[0] = 0x50;
  const magic = write('magic', bad);
  await assert.rejects(
    readIdxImageSet(magic, null, 't'),
    isDataError('DATA_FORMAT', /magic: byte offset 0: not an IDX file/),
  );
  const float = write('float', idx([3, 2, 4], pixels, 0x0d));
  await assert.rejects(
    readIdxImageSet(float, null, 't'),
    isDataError('DATA_FORMAT', /float: byte offset 2: .*0x0d \(float32\)/),
  );
  const twoDims = write('twodims', idx([3, 8], pixels));
  await assert.rejects(
    readIdxImageSet(twoDims, null, 't'),
    isDataError('DATA_FORMAT', /twodims: byte offset 3: 2 dimensions, expected 3/),
  );
  const images = write('ok-images', idx([3, 2, 4], pixels));
  const labels3d = write('labels3d', idx([3, 1, 1], labels));
  await assert.rejects(
    readIdxImageSet(images, labels3d, 't'),
    isDataError('DATA_FORMAT', /labels3d: byte offset 3/),
  );
});

test('corrupt gzip is reported', async () => {
  const gz = gzipSync(idx([3, 2, 4], pixels));
  gz.fill(0xaa, 12, 24);
  const p = write('corrupt.gz', gz);
  await assert.rejects(
    readIdxImageSet(p, null, 't'),
    isDataError('DATA_CORRUPT', /corrupt\.gz: corrupt gzip stream/),
  );
});

test('label count mismatch and out-of-range labels are rejected', async () => {
  const images = write('m-images', idx([3, 2, 4], pixels));
  const two = write('m-labels', idx([2], labels.subarray(0, 2)));
  await assert.rejects(
    readIdxImageSet(images, two, 't'),
    isDataError('DATA_FORMAT', /m-labels: .*2 labels but .*m-images has 3 images/),
  );
  const big = write('big-labels', idx([3], Uint8Array.from([1, 10, 2])));
  await assert.rejects(
    readIdxImageSet(images, big, 't', { numClasses: 10 }),
    isDataError('DATA_FORMAT', /big-labels: byte offset 9: label 10 of image 1 is out of range 0..9/),
  );
});

test('a missing file is DATA_NOT_FOUND', async () => {
  await assert.rejects(readIdxImageSet(join(dir, 'nope'), null, 't'), isDataError('DATA_NOT_FOUND', /nope/));
});

test('a zero dimension is refused: it would let the others claim any size over no data', async () => {
  const p = write('zero-dim', idx([0, 0xffffffff, 0xffffffff], new Uint8Array(0)));
  await assert.rejects(
    readIdxImageSet(p, null, 't'),
    isDataError('DATA_FORMAT', /zero-dim: byte offset 4: dimension 0 is 0/),
  );
});

test('a gzip stream is inflated only up to the limit (MAX_IDX_BYTES unless given)', async () => {
  assert.equal(MAX_IDX_BYTES, 2 ** 31);
  const bomb = gzipSync(Buffer.alloc(1 << 20));
  await assert.rejects(
    maybeGunzip(bomb, 'bomb.gz', 1 << 16),
    isDataError('DATA_FORMAT', /bomb\.gz: gzip stream inflates to more than 65536 bytes/),
  );
  assert.equal((await maybeGunzip(bomb, 'bomb.gz', 1 << 20)).length, 1 << 20);
});
