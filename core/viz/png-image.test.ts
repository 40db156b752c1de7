import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { PNG } from 'pngjs';
import { RgbImage } from './png-image.js';

const dirs: string[] = [];
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

/** RGBA of pixel (x, y) of a decoded PNG. */
function rgba(png: PNG, x: number, y: number): number[] {
  const o = (y * png.width + x) * 4;
  return [...png.data.subarray(o, o + 4)];
}

describe('RgbImage', () => {
  it('draws pixels, rectangles, squares and circles, clipping at the edges', () => {
    const img = new RgbImage(20, 10, [0, 0, 0]);
    img.setPixel(19, 9, [1, 2, 3]);
    img.setPixel(20, 0, [9, 9, 9]);
    img.setPixel(-1, 0, [9, 9, 9]);
    assert.deepEqual(img.getPixel(19, 9), [1, 2, 3]);
    img.fillSquare(2, 2, 3, [255, 0, 0]);
    assert.deepEqual(img.getPixel(1, 1), [255, 0, 0]);
    assert.deepEqual(img.getPixel(3, 3), [255, 0, 0]);
    assert.deepEqual(img.getPixel(4, 4), [0, 0, 0]);
    img.fillCircle(10, 5, 3, [0, 255, 0]);
    assert.deepEqual(img.getPixel(10, 5), [0, 255, 0]);
    assert.deepEqual(img.getPixel(12, 5), [0, 255, 0]);
    assert.deepEqual(img.getPixel(13, 5), [0, 0, 0]);
    img.fillRect(18, 8, 5, 5, [0, 0, 255]);
    assert.deepEqual(img.getPixel(19, 9), [0, 0, 255]);
    assert.throws(() => new RgbImage(0, 3), /positive integers/);
  });

  it('draws digits with the 3x5 font', () => {
    const img = new RgbImage(8, 5, [255, 255, 255]);
    img.drawDigits(0, 0, '17', [0, 0, 0]);
    // "1": column 1 fully set, column 0 only at rows 1 and 4.
    for (let y = 0; y < 5; y++) assert.deepEqual(img.getPixel(1, y), [0, 0, 0]);
    assert.deepEqual(img.getPixel(0, 0), [255, 255, 255]);
    assert.deepEqual(img.getPixel(0, 1), [0, 0, 0]);
    // "7" starts at x = 4: full top row, then only its right column.
    for (let x = 4; x < 7; x++) assert.deepEqual(img.getPixel(x, 0), [0, 0, 0]);
    assert.deepEqual(img.getPixel(4, 3), [255, 255, 255]);
    assert.deepEqual(img.getPixel(6, 3), [0, 0, 0]);
  });

  it('writes a PNG atomically that decodes to the same pixels', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'harmonium-png-'));
    dirs.push(dir);
    const img = new RgbImage(7, 3, [10, 20, 30]);
    img.setPixel(6, 2, [200, 100, 50]);
    const target = join(dir, 'a.png');
    await img.writePng(target);
    img.setPixel(0, 0, [1, 1, 1]);
    await img.writePng(target);
    assert.deepEqual(await readdir(dir), ['a.png']);
    const png = PNG.sync.read(await readFile(target));
    assert.equal(png.width, 7);
    assert.equal(png.height, 3);
    assert.deepEqual(rgba(png, 0, 0), [1, 1, 1, 255]);
    assert.deepEqual(rgba(png, 3, 1), [10, 20, 30, 255]);
    assert.deepEqual(rgba(png, 6, 2), [200, 100, 50, 255]);
    await assert.rejects(img.writePng(join(dir, 'missing', 'b.png')), /cannot write picture/);
    assert.deepEqual(await readdir(dir), ['a.png']);
  });
});
