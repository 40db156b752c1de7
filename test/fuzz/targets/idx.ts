/**
 * Fuzz target: an IDX file as the readers see it, gunzipped when it is gzip and parsed. Inputs
 * are IDX files of 1 to 4 dimensions, plain and gzipped, mutated (huge dimensions among them).
 */
import { gzipSync } from 'node:zlib';

import { maybeGunzip, parseIdx } from '../../../core/data/idx-reader.js';
import { idx } from '../../../core/data/testing.js';
import type { FuzzTarget } from '../fuzz-target.js';
import { mutatedBytes } from '../mutate.js';

/** Far below MAX_IDX_BYTES, so that a gzip bomb shows up as growth. */
const MAX_BYTES = 1 << 20;

/** The IDX fuzz target. */
export const idxTarget: FuzzTarget = {
  name: 'idx',
  seeds: () => {
    const images = idx(
      [3, 2, 4],
      Uint8Array.from({ length: 24 }, (_, i) => i * 11),
    );
    return [
      images,
      idx([3], Uint8Array.of(4, 0, 9)),
      idx([1, 1, 1, 2], Uint8Array.of(1, 2)),
      gzipSync(images),
      gzipSync(Buffer.alloc(MAX_BYTES + 1)),
    ];
  },
  arbitrary: (seeds) => mutatedBytes(seeds),
  run: async (input) => parseIdx(await maybeGunzip(input, 'fuzz.idx', MAX_BYTES), 'fuzz.idx'),
};
