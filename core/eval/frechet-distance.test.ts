import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Rng } from '../data/rng.js';
import type { Gaussian } from './frechet-distance.js';
import { fitGaussian, frechetDistance, psdSquareRoot } from './frechet-distance.js';

function gaussian(mean: number[], covariance: Float64Array): Gaussian {
  return { dim: mean.length, count: 0, mean: Float64Array.from(mean), covariance };
}

function diagonal(values: number[]): Float64Array {
  const n = values.length;
  const m = new Float64Array(n * n);
  values.forEach((v, i) => (m[i * n + i] = v));
  return m;
}

function multiply(a: Float64Array, b: Float64Array, n: number): Float64Array {
  const out = new Float64Array(n * n);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let k = 0; k < n; k++) s += a[i * n + k]! * b[k * n + j]!;
      out[i * n + j] = s;
    }
  return out;
}

function transpose(a: Float64Array, n: number): Float64Array {
  const out = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) out[j * n + i] = a[i * n + j]!;
  return out;
}

/** A random symmetric positive definite matrix G Gᵀ + 0.1 I. */
function randomSpd(n: number, rng: Rng): Float64Array {
  const g = Float64Array.from({ length: n * n }, () => rng.normal());
  const m = multiply(g, transpose(g, n), n);
  for (let i = 0; i < n; i++) m[i * n + i]! += 0.1;
  return m;
}

/** A random orthogonal matrix: Gram-Schmidt on Gaussian columns (rows here, then transposed). */
function randomOrthogonal(n: number, rng: Rng): Float64Array {
  const q = Float64Array.from({ length: n * n }, () => rng.normal());
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < i; j++) {
      let d = 0;
      for (let k = 0; k < n; k++) d += q[i * n + k]! * q[j * n + k]!;
      for (let k = 0; k < n; k++) q[i * n + k]! -= d * q[j * n + k]!;
    }
    let norm = 0;
    for (let k = 0; k < n; k++) norm += q[i * n + k]! ** 2;
    for (let k = 0; k < n; k++) q[i * n + k]! /= Math.sqrt(norm);
  }
  return q;
}

/** Gauss-Jordan inverse with partial pivoting. */
function inverse(m: Float64Array, n: number): Float64Array {
  const a = Float64Array.from(m);
  const inv = diagonal(Array.from({ length: n }, () => 1));
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(a[r * n + c]!) > Math.abs(a[p * n + c]!)) p = r;
    for (const x of [a, inv]) {
      for (let k = 0; k < n; k++) {
        const t = x[c * n + k]!;
        x[c * n + k] = x[p * n + k]!;
        x[p * n + k] = t;
      }
    }
    const d = a[c * n + c]!;
    for (let k = 0; k < n; k++) {
      a[c * n + k]! /= d;
      inv[c * n + k]! /= d;
    }
    for (let r = 0; r < n; r++) {
      if (r === c) continue;
      const f = a[r * n + c]!;
      for (let k = 0; k < n; k++) {
        a[r * n + k]! -= f * a[c * n + k]!;
        inv[r * n + k]! -= f * inv[c * n + k]!;
      }
    }
  }
  return inv;
}

/**
 * The reference the FID code uses, independently of the eigensolver: tr sqrtm(Sa Sb) of the
 * non-symmetric product, by the Denman-Beavers iteration (Y -> sqrt(A), Z -> sqrt(A)^-1).
 */
function bruteForceFrechet(a: Gaussian, b: Gaussian): number {
  const n = a.dim;
  let y = multiply(a.covariance, b.covariance, n);
  let z = diagonal(Array.from({ length: n }, () => 1));
  for (let it = 0; it < 100; it++) {
    const yi = inverse(y, n);
    const zi = inverse(z, n);
    y = y.map((v, i) => 0.5 * (v + zi[i]!));
    z = z.map((v, i) => 0.5 * (v + yi[i]!));
  }
  let fd = 0;
  for (let i = 0; i < n; i++) {
    fd += (a.mean[i]! - b.mean[i]!) ** 2;
    fd += a.covariance[i * n + i]! + b.covariance[i * n + i]! - 2 * y[i * n + i]!;
  }
  return fd;
}

function close(actual: number, expected: number, tol: number, what: string): void {
  assert.ok(Math.abs(actual - expected) <= tol, `${what}: ${actual} vs ${expected}`);
}

describe('frechetDistance', () => {
  it('is (mu_a - mu_b)^2 + (sigma_a - sigma_b)^2 in one dimension', () => {
    const fd = frechetDistance(gaussian([1], Float64Array.of(4)), gaussian([-2], Float64Array.of(9)));
    close(fd, 9 + 1, 1e-12, '1-D');
  });

  it('matches sum (sqrt a - sqrt b)^2 + |dmu|^2 for diagonal covariances', () => {
    const va = [0.5, 2, 3, 0, 7];
    const vb = [1, 2, 0.25, 4, 1e-3];
    const a = gaussian([0, 1, 2, 3, 4], diagonal(va));
    const b = gaussian([1, 1, 0, 3, 3], diagonal(vb));
    let expected = 1 + 4 + 1;
    for (let i = 0; i < va.length; i++) expected += (Math.sqrt(va[i]!) - Math.sqrt(vb[i]!)) ** 2;
    close(frechetDistance(a, b), expected, 1e-10, 'diagonal');
    close(frechetDistance(b, a), expected, 1e-10, 'symmetric');
  });

  it('matches the closed form for commuting covariances Q diag(a) Qᵀ, Q diag(b) Qᵀ', () => {
    const n = 6;
    const rng = new Rng(3);
    const q = randomOrthogonal(n, rng);
    const va = [5, 3, 2, 1, 0.5, 0.1];
    const vb = [0.2, 4, 2, 3, 0.5, 1];
    const rotate = (v: number[]): Float64Array => multiply(multiply(transpose(q, n), diagonal(v), n), q, n);
    let expected = 0;
    for (let i = 0; i < n; i++) expected += (Math.sqrt(va[i]!) - Math.sqrt(vb[i]!)) ** 2;
    const mean = Array.from({ length: n }, () => 0);
    close(
      frechetDistance(gaussian(mean, rotate(va)), gaussian(mean, rotate(vb))),
      expected,
      1e-9,
      'commuting',
    );
  });

  it('is 0 between identical Gaussians, even rank-deficient ones, and |dmu|^2 between point masses', () => {
    const rng = new Rng(5);
    const n = 8;
    // Rank 3: fitted to 4 rows, so eigenvalues of 0 come out as tiny +-1e-16.
    const rows = Float32Array.from({ length: 4 * n }, () => rng.normal());
    const g = fitGaussian(rows, 4, n);
    assert.equal(frechetDistance(g, g) < 1e-9, true, `self-distance ${frechetDistance(g, g)}`);
    const spd = gaussian([1, 2, 3], randomSpd(3, rng));
    assert.ok(frechetDistance(spd, spd) < 1e-12);
    const zero = new Float64Array(9);
    close(frechetDistance(gaussian([1, 2, 3], zero), gaussian([0, 0, 1], zero)), 1 + 4 + 4, 0, 'points');
  });

  it('agrees with a Denman-Beavers sqrtm of Sa Sb on random covariances', () => {
    const rng = new Rng(11);
    for (const n of [1, 2, 5, 12]) {
      const a = gaussian(
        Array.from({ length: n }, () => rng.normal()),
        randomSpd(n, rng),
      );
      const b = gaussian(
        Array.from({ length: n }, () => rng.normal()),
        randomSpd(n, rng),
      );
      const expected = bruteForceFrechet(a, b);
      close(frechetDistance(a, b), expected, 1e-8 * Math.max(1, expected), `n = ${n}`);
    }
  });

  it('is NaN, not 0, when a feature is NaN (a diverged generator)', () => {
    const rows = Float32Array.from({ length: 30 }, (_, i) => Math.sin(i));
    const good = fitGaussian(rows, 10, 3);
    rows[4] = NaN;
    assert.ok(Number.isNaN(frechetDistance(fitGaussian(rows, 10, 3), good)));
  });

  it('rejects Gaussians of different dimensions', () => {
    assert.throws(
      () => frechetDistance(gaussian([0], Float64Array.of(1)), gaussian([0, 0], diagonal([1, 1]))),
      /dimensions 1 and 2/,
    );
  });
});

describe('psdSquareRoot', () => {
  it('squares back to the matrix and clamps negative eigenvalues to 0', () => {
    const rng = new Rng(2);
    const n = 7;
    const m = randomSpd(n, rng);
    const r = psdSquareRoot(m, n);
    const back = multiply(r, r, n);
    for (let i = 0; i < n * n; i++) close(back[i]!, m[i]!, 1e-9, `entry ${i}`);
    // diag(4, -1e-12) -> diag(2, 0)
    assert.deepEqual(Array.from(psdSquareRoot(diagonal([4, -1e-12]), 2)), [2, 0, 0, 0]);
  });
});

describe('fitGaussian', () => {
  it('matches the float64 mean and unbiased covariance of the rows', () => {
    const rng = new Rng(9);
    const count = 50;
    const dim = 4;
    const rows = Float32Array.from({ length: count * dim }, () => 100 + rng.normal());
    const g = fitGaussian(rows, count, dim);
    for (let i = 0; i < dim; i++) {
      let m = 0;
      for (let r = 0; r < count; r++) m += rows[r * dim + i]!;
      m /= count;
      close(g.mean[i]!, m, 1e-12, `mean ${i}`);
    }
    for (let i = 0; i < dim; i++)
      for (let j = 0; j < dim; j++) {
        let s = 0;
        for (let r = 0; r < count; r++)
          s += (rows[r * dim + i]! - g.mean[i]!) * (rows[r * dim + j]! - g.mean[j]!);
        close(g.covariance[i * dim + j]!, s / (count - 1), 1e-10, `cov ${i},${j}`);
      }
    assert.equal(g.count, count);
  });

  it('needs at least two rows', () => {
    assert.throws(() => fitGaussian(new Float32Array(3), 1, 3), /at least 2 rows/);
  });
});
