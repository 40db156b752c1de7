import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { tileImages } from './image-grid.js';

describe('tileImages', () => {
  const grey = { height: 2, width: 3, channels: 1 };

  it('lays grey tiles out row by row with separators, clipping to [0, 1]', () => {
    // Tile t has every pixel at t / 4, except tile 4 at 2 (clipped to white).
    const images = new Float32Array(5 * 6);
    for (let t = 0; t < 5; t++) images.fill(t === 4 ? 2 : t / 4, t * 6, (t + 1) * 6);
    images[1] = -1;
    const img = tileImages(images, 5, grey, { columns: 2, separator: 1, separatorColour: [255, 0, 0] });
    // 2 columns x 3 rows of 3x2 tiles, 1 px around and between.
    assert.equal(img.width, 2 * 3 + 3);
    assert.equal(img.height, 3 * 2 + 4);
    assert.deepEqual(img.getPixel(0, 0), [255, 0, 0]);
    assert.deepEqual(img.getPixel(1, 1), [0, 0, 0]);
    assert.deepEqual(img.getPixel(2, 1), [0, 0, 0]);
    assert.deepEqual(img.getPixel(4, 1), [255, 0, 0]);
    assert.deepEqual(img.getPixel(5, 1), [64, 64, 64]);
    assert.deepEqual(img.getPixel(1, 4), [128, 128, 128]);
    assert.deepEqual(img.getPixel(5, 4), [191, 191, 191]);
    assert.deepEqual(img.getPixel(1, 7), [255, 255, 255]);
    // The sixth slot is empty: separator colour.
    assert.deepEqual(img.getPixel(6, 8), [255, 0, 0]);
  });

  it('stretches each tile to its own range and draws a constant tile mid grey', () => {
    const images = Float32Array.from([-3, -1, 1, 0, 0, 0, 7, 7, 7, 7, 7, 7]);
    const img = tileImages(images, 2, grey, { columns: 2, separator: 0, normalise: 'per-tile', scale: 2 });
    assert.equal(img.width, 12);
    assert.equal(img.height, 4);
    assert.deepEqual(img.getPixel(0, 0), [0, 0, 0]);
    assert.deepEqual(img.getPixel(1, 1), [0, 0, 0]);
    assert.deepEqual(img.getPixel(2, 0), [128, 128, 128]);
    assert.deepEqual(img.getPixel(4, 0), [255, 255, 255]);
    assert.deepEqual(img.getPixel(0, 2), [191, 191, 191]);
    assert.deepEqual(img.getPixel(6, 0), [128, 128, 128]);
  });

  it('draws RGB tiles in colour', () => {
    const rgb = Float32Array.from([1, 0, 0, 0, 0.5, 1]);
    const img = tileImages(rgb, 1, { height: 1, width: 2, channels: 3 }, { columns: 4, separator: 2 });
    assert.equal(img.width, 2 + 4);
    assert.deepEqual(img.getPixel(2, 2), [255, 0, 0]);
    assert.deepEqual(img.getPixel(3, 2), [0, 128, 255]);
    assert.throws(
      () => tileImages(rgb, 1, { height: 1, width: 1, channels: 2 }, { columns: 1 }),
      /2 channels/,
    );
  });
});
