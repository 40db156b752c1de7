import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';

import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import type { ColorType } from 'pngjs';

import { readImageFolder } from './image-folder-reader.js';
import { isDataError } from './testing.js';

/** A PNG of `w` x `h` whose RGBA pixel (x, y) is `px(x, y)`, stored with `colorType`. */
function png(
  w: number,
  h: number,
  colorType: ColorType,
  px: (x: number, y: number) => number[],
  bitDepth: 8 | 16 = 8,
): Buffer {
  const img = new PNG({ width: w, height: h });
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) img.data.set(px(x, y), (y * w + x) * 4);
  if (bitDepth === 16) {
    // pngjs writes 16-bit from 16-bit input samples.
    const d16 = Buffer.alloc(w * h * 8);
    for (let i = 0; i < w * h * 4; i++) d16.writeUInt16LE(img.data[i]! * 257, i * 2);
    img.data = d16;
  }
  return PNG.sync.write(img, { colorType, bitDepth });
}

function tree(files: Record<string, Uint8Array>): string {
  const root = mkdtempSync(join(tmpdir(), 'harmonium-images-'));
  for (const [rel, bytes] of Object.entries(files)) {
    mkdirSync(dirname(join(root, rel)), { recursive: true });
    writeFileSync(join(root, rel), bytes);
  }
  return root;
}

const grey = (v: number): number[] => [v, v, v, 255];

test('grey PNGs at the target size are read exactly, in sorted path order, with folder labels', async () => {
  const root = tree({
    'shoe/b.png': png(3, 2, 0, (x, y) => grey(10 * x + 100 * y)),
    'bag/z.png': png(3, 2, 0, () => grey(7)),
    'bag/a.PNG': png(3, 2, 0, (x) => grey(200 + x)),
    'shoe/.hidden.png': Buffer.from('not an image'),
    'shoe/notes.txt': Buffer.from('ignored'),
  });
  const set = await readImageFolder(root, { height: 2, width: 3, channels: 1 });
  assert.equal(set.count, 3);
  assert.deepEqual(set.shape, { height: 2, width: 3, channels: 1 });
  assert.deepEqual(
    [...set.pixels],
    [200, 201, 202, 200, 201, 202, 7, 7, 7, 7, 7, 7, 0, 10, 20, 100, 110, 120],
  );
  assert.deepEqual([...set.labels!], [0, 0, 1]);
});

test('RGB PNG (RGBA alpha ignored) read as RGB and as luma grey', async () => {
  const root = tree({ 'x.png': png(2, 1, 6, (x) => (x === 0 ? [255, 0, 0, 0] : [10, 20, 30, 128])) });
  const rgb = await readImageFolder(root, { height: 1, width: 2, channels: 3 });
  assert.deepEqual([...rgb.pixels], [255, 0, 0, 10, 20, 30]);
  assert.equal(rgb.labels, null, 'images at the top level carry no labels');
  const g = await readImageFolder(root, { height: 1, width: 2, channels: 1 });
  assert.deepEqual(
    [...g.pixels],
    [Math.round(0.299 * 255), Math.round(0.299 * 10 + 0.587 * 20 + 0.114 * 30)],
  );
});

test('16-bit PNG is scaled to 8 bits', async () => {
  const root = tree({ 'a.png': png(2, 1, 2, (x) => (x === 0 ? [0, 128, 255, 255] : [1, 2, 3, 255]), 16) });
  const set = await readImageFolder(root, { height: 1, width: 2, channels: 3 });
  assert.deepEqual([...set.pixels], [0, 128, 255, 1, 2, 3]);
});

test('JPEG is decoded (within JPEG loss)', async () => {
  const w = 16;
  const h = 16;
  const data = Buffer.alloc(w * h * 4);
  for (let i = 0; i < w * h; i++) data.set([200, 100, 50, 255], i * 4);
  const root = tree({ 'c/photo.jpg': jpeg.encode({ width: w, height: h, data }, 95).data });
  const set = await readImageFolder(root, { height: 16, width: 16, channels: 3 });
  for (let i = 0; i < w * h; i++) {
    const px = [...set.pixels.subarray(i * 3, i * 3 + 3)];
    [200, 100, 50].forEach((want, k) => assert.ok(Math.abs(px[k]! - want) <= 3, `pixel ${i}: ${px}`));
  }
  assert.deepEqual([...set.labels!], [0]);
});

test('resizing averages areas down and repeats pixels up', async () => {
  // 4x4 of 2x2 blocks: 0, 100 / 200, 40.
  const block = (x: number, y: number): number =>
    [
      [0, 100],
      [200, 40],
    ][y >> 1]![x >> 1]!;
  const root = tree({ 'a.png': png(4, 4, 0, (x, y) => grey(block(x, y))) });
  const down = await readImageFolder(root, { height: 2, width: 2, channels: 1 });
  assert.deepEqual([...down.pixels], [0, 100, 200, 40]);
  const one = await readImageFolder(root, { height: 1, width: 1, channels: 1 });
  assert.deepEqual([...one.pixels], [85]);
  const odd = tree({ 'b.png': png(2, 1, 0, (x) => grey(x === 0 ? 0 : 90)) });
  const up = await readImageFolder(odd, { height: 1, width: 3, channels: 1 });
  // Output pixel 1 covers half of each source pixel.
  assert.deepEqual([...up.pixels], [0, 45, 90]);
});

test('an unreadable image fails naming the file', async () => {
  const root = tree({
    'a/good.png': png(2, 2, 0, () => grey(1)),
    'a/broken.png': png(2, 2, 0, () => grey(1)).subarray(0, 40),
  });
  await assert.rejects(
    readImageFolder(root, { height: 2, width: 2, channels: 1 }),
    isDataError('IMAGE_DECODE', /a\/broken\.png: cannot decode/),
  );
  const jpg = tree({ 'x.jpeg': Buffer.from('GIF89a not really') });
  await assert.rejects(
    readImageFolder(jpg, { height: 2, width: 2, channels: 1 }),
    isDataError('IMAGE_DECODE', /x\.jpeg: .*neither PNG nor JPEG/),
  );
});

test('a missing or empty folder is DATA_NOT_FOUND', async () => {
  const empty = tree({ 'readme.txt': Buffer.from('x') });
  await assert.rejects(
    readImageFolder(empty, { height: 2, width: 2, channels: 1 }),
    isDataError('DATA_NOT_FOUND', /no \.png/),
  );
  await assert.rejects(
    readImageFolder(join(empty, 'nope'), { height: 2, width: 2, channels: 1 }),
    isDataError('DATA_NOT_FOUND', /nope/),
  );
});
