import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { symmetricEigen } from './symmetric-eigen.js';

describe('symmetricEigen', () => {
  it('finds the eigenpairs of a known 3x3 matrix, sorted descending', () => {
    // [[2,1,0],[1,2,0],[0,0,5]] has eigenvalues 5, 3, 1.
    const { values, vectors } = symmetricEigen(Float64Array.from([2, 1, 0, 1, 2, 0, 0, 0, 5]), 3);
    assert.deepEqual(
      Array.from(values, (v) => Number(v.toFixed(12))),
      [5, 3, 1],
    );
    // Second eigenvector is ±(1, 1, 0)/√2.
    assert.ok(Math.abs(Math.abs(vectors[0 * 3 + 1]!) - Math.SQRT1_2) < 1e-12);
    assert.ok(Math.abs(vectors[0 * 3 + 1]! - vectors[1 * 3 + 1]!) < 1e-12);
  });

  it('reassembles a random symmetric matrix from V Λ Vᵀ', () => {
    const n = 12;
    const m = new Float64Array(n * n);
    let seed = 7;
    for (let i = 0; i < n; i++) {
      for (let j = i; j < n; j++) {
        seed = (seed * 1103515245 + 12345) % 2147483648;
        m[i * n + j] = m[j * n + i] = seed / 2147483648 - 0.5;
      }
    }
    const { values, vectors } = symmetricEigen(m, n);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let c = 0; c < n; c++) s += vectors[i * n + c]! * values[c]! * vectors[j * n + c]!;
        assert.ok(Math.abs(s - m[i * n + j]!) < 1e-12, `entry ${i},${j}: ${s} vs ${m[i * n + j]}`);
      }
    }
    for (let c = 1; c < n; c++) assert.ok(values[c - 1]! >= values[c]!);
  });

  it('handles repeated eigenvalues, a zero matrix and 1x1', () => {
    const id = symmetricEigen(Float64Array.from([3, 0, 0, 0, 3, 0, 0, 0, 3]), 3);
    assert.deepEqual(Array.from(id.values), [3, 3, 3]);
    assert.deepEqual(Array.from(symmetricEigen(new Float64Array(4), 2).values), [0, 0]);
    const one = symmetricEigen(Float64Array.from([-2]), 1);
    assert.deepEqual([one.values[0], Math.abs(one.vectors[0]!)], [-2, 1]);
  });
});
