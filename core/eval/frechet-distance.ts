/**
 * The Frechet (2-Wasserstein) distance between two Gaussians, the statistic behind FID:
 * |mu_a - mu_b|^2 + tr(Sa + Sb - 2 (Sa^1/2 Sb Sa^1/2)^1/2). The matrix square roots come from the
 * symmetric eigensolver, in float64 throughout.
 */
import { HarmoniumError } from '../errors.js';
import { symmetricEigen } from './symmetric-eigen.js';

/** A Gaussian fitted to feature rows: mean and covariance (dim x dim, row-major), float64. */
export interface Gaussian {
  readonly dim: number;
  /** Rows it was fitted to. */
  readonly count: number;
  readonly mean: Float64Array;
  /** Unbiased (n - 1 denominator), as numpy's cov and the FID reference code use. */
  readonly covariance: Float64Array;
}

/** Mean and covariance of `count` rows of `dim` features (row-major), accumulated in float64. */
export function fitGaussian(features: Float32Array, count: number, dim: number): Gaussian {
  if (count < 2 || features.length < count * dim) {
    throw new HarmoniumError(
      'MODEL_INVALID',
      `fitGaussian: need at least 2 rows of ${dim} features, got ${features.length} values for ${count} rows`,
    );
  }
  const mean = new Float64Array(dim);
  for (let r = 0; r < count; r++) {
    const o = r * dim;
    for (let j = 0; j < dim; j++) mean[j]! += features[o + j]!;
  }
  for (let j = 0; j < dim; j++) mean[j]! /= count;
  // Centred rows, so the sums of products do not cancel large means.
  const centred = new Float64Array(dim);
  const covariance = new Float64Array(dim * dim);
  for (let r = 0; r < count; r++) {
    const o = r * dim;
    for (let j = 0; j < dim; j++) centred[j] = features[o + j]! - mean[j]!;
    for (let i = 0; i < dim; i++) {
      const ci = centred[i]!;
      if (ci === 0) continue;
      const row = i * dim;
      for (let j = i; j < dim; j++) covariance[row + j]! += ci * centred[j]!;
    }
  }
  for (let i = 0; i < dim; i++) {
    for (let j = i; j < dim; j++) {
      const v = covariance[i * dim + j]! / (count - 1);
      covariance[i * dim + j] = v;
      covariance[j * dim + i] = v;
    }
  }
  return { dim, count, mean, covariance };
}

/**
 * The Frechet distance between `a` and `b`. Covariances are positive semi-definite in exact
 * arithmetic; eigenvalues rounding has pushed below zero are clamped to 0, and so is a total that
 * rounding leaves slightly negative (identical Gaussians).
 */
export function frechetDistance(a: Gaussian, b: Gaussian): number {
  const n = a.dim;
  if (b.dim !== n) {
    throw new HarmoniumError('MODEL_INVALID', `frechetDistance: dimensions ${a.dim} and ${b.dim} differ`);
  }
  let meanTerm = 0;
  for (let i = 0; i < n; i++) {
    const d = a.mean[i]! - b.mean[i]!;
    meanTerm += d * d;
  }
  let traces = 0;
  for (let i = 0; i < n; i++) traces += a.covariance[i * n + i]! + b.covariance[i * n + i]!;
  // tr((Sa Sb)^1/2) = tr((Sa^1/2 Sb Sa^1/2)^1/2): the latter is symmetric PSD, so its root's trace
  // is the sum of the roots of its eigenvalues.
  const rootA = psdSquareRoot(a.covariance, n);
  const inner = multiply(multiply(rootA, b.covariance, n), rootA, n);
  symmetrise(inner, n);
  let crossTrace = 0;
  for (const v of symmetricEigen(inner, n).values) crossTrace += Math.sqrt(Math.max(v, 0));
  return Math.max(0, meanTerm + traces - 2 * crossTrace);
}

/** The symmetric square root V diag(sqrt(max(lambda, 0))) V^T of a symmetric PSD matrix. */
export function psdSquareRoot(m: Float64Array, n: number): Float64Array {
  const { values, vectors } = symmetricEigen(m, n);
  const roots = Float64Array.from(values, (v) => Math.sqrt(Math.max(v, 0)));
  const out = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = i; j < n; j++) {
      let s = 0;
      for (let c = 0; c < n; c++) s += vectors[i * n + c]! * roots[c]! * vectors[j * n + c]!;
      out[i * n + j] = s;
      out[j * n + i] = s;
    }
  }
  return out;
}

/** a b for n x n row-major matrices. */
function multiply(a: Float64Array, b: Float64Array, n: number): Float64Array {
  const out = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    const row = i * n;
    for (let k = 0; k < n; k++) {
      const aik = a[row + k]!;
      if (aik === 0) continue;
      const bk = k * n;
      for (let j = 0; j < n; j++) out[row + j]! += aik * b[bk + j]!;
    }
  }
  return out;
}

/** Replaces m by (m + m^T) / 2, removing the asymmetry rounding leaves in a product. */
function symmetrise(m: Float64Array, n: number): void {
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const v = 0.5 * (m[i * n + j]! + m[j * n + i]!);
      m[i * n + j] = v;
      m[j * n + i] = v;
    }
  }
}
