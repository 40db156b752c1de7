import assert from 'node:assert/strict';
import { test } from 'node:test';

import { Rng } from './rng.js';

test('fillUniform draws exactly the values of successive uniform() calls and leaves the same state', () => {
  const filled = new Rng(42);
  const oneByOne = new Rng(42);
  // Several fills in a row, of odd lengths, so a state handed from one fill to the next is covered.
  for (const n of [1, 7, 1000, 4099]) {
    const out = filled.fillUniform(new Float32Array(n));
    const expected = Float32Array.from({ length: n }, () => oneByOne.uniform());
    assert.deepEqual(out, expected);
    assert.deepEqual(filled.state(), oneByOne.state());
  }
  assert.equal(filled.nextU32(), oneByOne.nextU32());
});

test('a restored state continues a fill where it stopped', () => {
  const a = new Rng(9);
  a.fillUniform(new Float32Array(33));
  const b = Rng.fromState(a.state());
  assert.deepEqual(a.fillUniform(new Float32Array(64)), b.fillUniform(new Float32Array(64)));
});
