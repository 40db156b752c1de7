import assert from 'node:assert/strict';
import { test } from 'node:test';

import { Rng, deriveSeed } from './rng.js';
import { NOISE_STREAM, SampleNoise } from './sample-noise.js';

/** Two successive draws of different widths per row (uniform, then normal), as one step makes them. */
function draws(noise: SampleNoise, rows: number): [Float32Array, Float32Array] {
  return [noise.fillUniform(new Float32Array(rows * 5)), noise.fillNormal(new Float32Array(rows * 3), 1, 2)];
}

test('a batch split into [0, 3) and [3, 10) draws exactly what the whole batch draws', () => {
  const [wholeU, wholeN] = draws(new SampleNoise(7, 11, 0, 10), 10);
  const [headU, headN] = draws(new SampleNoise(7, 11, 0, 3), 3);
  const [tailU, tailN] = draws(new SampleNoise(7, 11, 3, 7), 7);
  assert.deepEqual([...headU, ...tailU], [...wholeU]);
  assert.deepEqual([...headN, ...tailN], [...wholeN]);
  assert.ok(wholeU.every((u) => u >= 0 && u < 1));
  assert.notDeepEqual([...wholeU.subarray(0, 5)], [...wholeU.subarray(5, 10)], 'rows differ');
});

test("each row is its sample's own generator, continued across the draws of a step", () => {
  const noise = new SampleNoise(7, 11, 4, 2);
  const first = noise.fillUniform(new Float32Array(2 * 3));
  const second = noise.fillUniform(new Float32Array(2 * 2));
  const sample5 = new Rng(deriveSeed(7, 11, 5, NOISE_STREAM)).fillUniform(new Float32Array(5));
  assert.deepEqual([...first.subarray(3), ...second.subarray(2)], [...sample5]);
});

test('is deterministic and depends on the seed, the step and the first sample', () => {
  const values = (seed: number, step: number, first: number): number[] => [
    ...new SampleNoise(seed, step, first, 4).fillNormal(new Float32Array(8)),
  ];
  assert.deepEqual(values(1, 2, 3), values(1, 2, 3));
  assert.notDeepEqual(values(1, 2, 3), values(2, 2, 3));
  assert.notDeepEqual(values(1, 2, 3), values(1, 3, 3));
  assert.notDeepEqual(values(1, 2, 3), values(1, 2, 4));
});

test('rejects a draw that is not whole rows, and takes empty draws of no rows', () => {
  const noise = new SampleNoise(1, 0, 0, 4);
  assert.throws(() => noise.fillUniform(new Float32Array(10)), /10 values .* 4 rows/);
  assert.throws(() => noise.fillNormal(new Float32Array(3)), RangeError);
  assert.equal(noise.fillUniform(new Float32Array(0)).length, 0);
  const none = new SampleNoise(1, 0, 5, 0);
  assert.equal(none.fillUniform(new Float32Array(0)).length, 0);
  assert.equal(none.fillNormal(new Float32Array(0)).length, 0);
  assert.throws(() => none.fillUniform(new Float32Array(1)), /1 values .* 0 rows/);
  assert.throws(() => new SampleNoise(1, 0, 0, 2.5), RangeError);
  assert.throws(() => new SampleNoise(1, 0, -1, 2), RangeError);
});
