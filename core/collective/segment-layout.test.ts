import assert from 'node:assert/strict';
import { test } from 'node:test';

import { chunkSegments, segmentCount } from './segment-layout.js';

/** The segments of one chunk as [lo, hi) pairs. */
function pairs(length: number, n: number, c: number, segmentElements: number, interleave: number) {
  const bounds = chunkSegments(length, n, c, segmentElements, interleave);
  assert.equal(bounds.length % 2, 0);
  return Array.from({ length: bounds.length / 2 }, (_, k): [number, number] => [
    bounds[2 * k]!,
    bounds[2 * k + 1]!,
  ]);
}

test('chunkSegments without interleave is the contiguous cut', () => {
  for (const length of [0, 1, 3, 10, 1001, 4097]) {
    for (const n of [1, 2, 3, 5]) {
      for (const segmentElements of [1, 7, 1000]) {
        for (let c = 0; c < n; c++) {
          const lo = Math.floor((c * length) / n);
          const hi = Math.floor(((c + 1) * length) / n);
          const want = Array.from({ length: segmentCount(hi - lo, segmentElements) }, (_, k) => [
            lo + k * segmentElements,
            Math.min(hi, lo + (k + 1) * segmentElements),
          ]);
          assert.deepEqual(pairs(length, n, c, segmentElements, 0), want);
        }
      }
    }
  }
});

test('chunkSegments with interleave G gives chunk c the blocks c, c + n, ... cut into segments', () => {
  for (const length of [0, 1, 5, 64, 1001]) {
    for (const n of [1, 2, 3, 4]) {
      for (const interleave of [1, 3, 16, 100, 5000]) {
        for (const segmentElements of [1, 7, 64]) {
          const covered = new Uint8Array(length);
          for (let c = 0; c < n; c++) {
            const segments = pairs(length, n, c, segmentElements, interleave);
            if (c * interleave >= length) {
              // A chunk with no block still sends one (empty) message a step.
              assert.equal(segments.length, 1);
              assert.equal(segments[0]![0], segments[0]![1]);
              continue;
            }
            let last = -1;
            for (const [lo, hi] of segments) {
              const block = Math.floor(lo / interleave);
              assert.ok(lo > last && hi > lo && hi - lo <= segmentElements, `${lo}..${hi}`);
              assert.equal(block % n, c, `segment ${lo}..${hi} is not in a block of chunk ${c}`);
              assert.ok(hi <= Math.min(length, (block + 1) * interleave), 'a segment spans two blocks');
              for (let i = lo; i < hi; i++) covered[i]!++;
              last = lo;
            }
          }
          assert.ok(
            covered.every((x) => x === 1),
            `length ${length}, n ${n}, G ${interleave}: not a partition`,
          );
        }
      }
    }
  }
});

test('chunkSegments edge cases: one block, blocks of one float, blocks over a segment, no floats', () => {
  // Interleave past the buffer: chunk 0 holds everything.
  assert.deepEqual(pairs(10, 3, 0, 4, 256), [
    [0, 4],
    [4, 8],
    [8, 10],
  ]);
  assert.deepEqual(pairs(10, 3, 1, 4, 256), [[10, 10]]);
  assert.deepEqual(pairs(10, 3, 2, 4, 2 ** 53 - 1), [[10, 10]]);
  assert.deepEqual(pairs(7, 3, 1, 4, 1), [
    [1, 2],
    [4, 5],
  ]);
  // Blocks of 5 with 2-float segments, the buffer's last block short (12 = 5 + 5 + 2).
  assert.deepEqual(pairs(12, 2, 0, 2, 5), [
    [0, 2],
    [2, 4],
    [4, 5],
    [10, 12],
  ]);
  assert.deepEqual(pairs(12, 2, 1, 2, 5), [
    [5, 7],
    [7, 9],
    [9, 10],
  ]);
  for (let c = 0; c < 3; c++) assert.deepEqual(pairs(0, 3, c, 4, 8), [[0, 0]]);
});
