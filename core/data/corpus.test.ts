import assert from 'node:assert/strict';
import { test } from 'node:test';

import { optionalNativeAddon } from '../compute/native-addon.js';
import { gatherBatch, gatherBatchInJs, type ImageSet } from './corpus.js';

/** Both paths: the addon's where it is built (as in CI), and JavaScript's. */
const PATHS = [
  ['gatherBatch', (set: ImageSet, idx: ArrayLike<number>) => gatherBatch(set, idx)],
  [
    'JavaScript',
    (set: ImageSet, idx: ArrayLike<number>) => gatherBatchInJs(set, idx, new Float32Array(idx.length * 256)),
  ],
] as const;

/** Every byte value 0..255 in a set of 16x16 grey images, image i holding (i + j) mod 256 at pixel j. */
function byteSet(count: number): ImageSet {
  const d = 256;
  const pixels = new Uint8Array(count * d);
  for (let i = 0; i < count; i++) for (let j = 0; j < d; j++) pixels[i * d + j] = (i + j) % 256;
  return { name: 'bytes', shape: { height: 16, width: 16, channels: 1 }, count, pixels, labels: null };
}

test('gatherBatch copies the chosen images as pixel / 255, bit for bit, in the order asked', () => {
  const set = byteSet(40);
  // A repeat and a descending run: rows follow the indices, not the set's order.
  const indices = [39, 0, 7, 7, 21, 20, 19];
  for (const [path, gather] of PATHS)
    for (const asked of [indices, Uint32Array.from(indices)]) {
      const out = gather(set, asked);
      assert.equal(out.length, indices.length * 256);
      for (let r = 0; r < indices.length; r++)
        for (let j = 0; j < 256; j++)
          assert.equal(
            out[r * 256 + j],
            Math.fround(((indices[r]! + j) % 256) / 255),
            `${path}: row ${r} pixel ${j}`,
          );
    }
});

const addon = optionalNativeAddon();

test(
  'the native gather cut into parts on 2 threads gives the same rows',
  { skip: addon ? false : 'the native addon is not built' },
  () => {
    addon!.setThreads(2);
    const set = byteSet(1000);
    const indices = Uint32Array.from({ length: 600 }, (_, i) => (i * 337) % 1000);
    assert.deepEqual(gatherBatch(set, indices), gatherBatchInJs(set, indices, new Float32Array(600 * 256)));
  },
);

test('gatherBatch refuses an index past the set, naming it and its row', () => {
  const set = byteSet(5);
  for (const [, gather] of PATHS)
    assert.throws(() => gather(set, Uint32Array.of(1, 5)), /index 5 at row 1 is past the set's 5 images/);
});
