/**
 * Principal component analysis fitted by the project itself, the linear baseline every model's
 * reconstruction error is compared with. The covariance is accumulated with tf.matMul over chunks
 * of centred rows; its top eigenvectors come from block subspace iteration with Rayleigh-Ritz,
 * whose small projected problem is solved by a Jacobi eigensolver written here.
 */
import { tf } from '../compute/tf.js';
import type { ImageSet } from '../data/corpus.js';
import { gatherBatch, pixelsPerImage } from '../data/corpus.js';
import { Rng } from '../data/rng.js';
import { symmetricEigen } from './symmetric-eigen.js';
import { ConfigError } from '../errors.js';
import { rangeIndices } from './batches.js';

/** A fitted PCA: `x ≈ mean + code · components` with `code = (x - mean) · componentsᵀ`. */
export interface Pca {
  /** Values per input row. */
  readonly dim: number;
  /** Number of components kept. */
  readonly k: number;
  /** Per-value mean of the training rows (dim). */
  readonly mean: Float32Array;
  /** Orthonormal principal directions, one per row, by decreasing variance (k x dim). */
  readonly components: Float32Array;
  /** Variance of the training rows along each component (eigenvalues, n - 1 denominator). */
  readonly explainedVariance: Float32Array;
  /** Trace of the covariance: the variance a full basis would explain. */
  readonly totalVariance: number;
  /** Subspace iterations run (0 when the covariance was decomposed whole). */
  readonly iterations: number;
  /** max_i ‖C v_i − λ_i v_i‖ / λ_1 over the kept components at the end. */
  readonly residual: number;
  /** Whether `residual` fell below the tolerance within the iteration limit. */
  readonly converged: boolean;
}

/** Knobs of {@link fitPca}; the defaults suit image data with a few hundred values per row. */
export interface PcaOptions {
  /** Rows per matMul when accumulating the covariance (bounds memory). Default 1000. */
  readonly chunkRows?: number;
  /** Extra directions iterated beyond k, which speeds convergence of the k-th. Default 10. */
  readonly oversample?: number;
  /** Default 500. */
  readonly maxIterations?: number;
  /** Stop when the relative residual (see {@link Pca.residual}) is below this. Default 1e-5. */
  readonly tolerance?: number;
  /** Seed of the random starting block. Default 1. */
  readonly seed?: number;
}

/** Fills `out` with rows [start, start + rows) as float32, row-major. */
type RowSource = (start: number, rows: number, out: Float32Array) => void;

/** Rows per covariance matMul: wasm ran fastest near 1000 (16 vs 12 GFLOP/s at 5000). */
const COVARIANCE_CHUNK_ROWS = 1000;
/** Rows per matMul when encoding or reconstructing. */
const TRANSFORM_CHUNK_ROWS = 5000;

/** Fits a k-component PCA to `count` rows of `dim` values held in `data` (row-major). */
export function fitPca(
  data: Float32Array,
  count: number,
  dim: number,
  k: number,
  opts: PcaOptions = {},
): Pca {
  if (data.length < count * dim) {
    throw new ConfigError('pca', `data holds ${data.length} values, fewer than ${count} x ${dim}`);
  }
  return fitFromSource(
    (start, rows, out) => out.set(data.subarray(start * dim, (start + rows) * dim)),
    count,
    dim,
    k,
    opts,
  );
}

/** Fits a k-component PCA to the images of `set` scaled to [0, 1], gathered a chunk at a time. */
export function fitPcaToSet(set: ImageSet, k: number, opts: PcaOptions = {}): Pca {
  const dim = pixelsPerImage(set.shape);
  return fitFromSource(
    (start, rows, out) => gatherBatch(set, rangeIndices(start, rows), out),
    set.count,
    dim,
    k,
    opts,
  );
}

function fitFromSource(source: RowSource, count: number, dim: number, k: number, opts: PcaOptions): Pca {
  if (!Number.isInteger(k) || k < 1 || k > dim) {
    throw new ConfigError('pca', `component count ${k} must be an integer in [1, ${dim}]`);
  }
  if (count < 2) throw new ConfigError('pca', `needs at least 2 rows, got ${count}`);
  const chunkRows = Math.max(1, Math.min(opts.chunkRows ?? COVARIANCE_CHUNK_ROWS, count));
  const buf = new Float32Array(chunkRows * dim);

  // Pass 1: the mean, in float64 so 60k rows lose nothing.
  const mean64 = new Float64Array(dim);
  for (let start = 0; start < count; start += chunkRows) {
    const rows = Math.min(chunkRows, count - start);
    source(start, rows, buf);
    for (let r = 0; r < rows; r++) {
      const o = r * dim;
      for (let j = 0; j < dim; j++) mean64[j]! += buf[o + j]!;
    }
  }
  for (let j = 0; j < dim; j++) mean64[j]! /= count;
  const mean = Float32Array.from(mean64);

  // Pass 2: covariance of centred rows (centring first keeps float32 products well scaled); each
  // chunk's product is summed in float64 so the rounding does not grow with the row count.
  const cov64 = new Float64Array(dim * dim);
  for (let start = 0; start < count; start += chunkRows) {
    const rows = Math.min(chunkRows, count - start);
    source(start, rows, buf);
    for (let r = 0; r < rows; r++) {
      const o = r * dim;
      for (let j = 0; j < dim; j++) buf[o + j]! -= mean[j]!;
    }
    const part = tf.tidy(() => {
      const x = tf.tensor2d(buf.subarray(0, rows * dim), [rows, dim]);
      // xᵀx with the transpose as a flag of the product (native and tensorflow: a BLAS argument;
      // 60,000 images 2.1 -> 0.46 s), except on wasm, whose matMul runs about 10x slower with it set.
      return tf.getBackend() === 'wasm' ? tf.matMul(tf.transpose(x), x) : tf.matMul(x, x, true, false);
    });
    const v = part.dataSync();
    part.dispose();
    for (let i = 0; i < v.length; i++) cov64[i]! += v[i]!;
  }
  let trace = 0;
  for (let i = 0; i < dim * dim; i++) cov64[i]! /= count - 1;
  for (let j = 0; j < dim; j++) trace += cov64[j * dim + j]!;

  const eig = topEigenvectors(cov64, dim, k, opts);
  return { dim, k, mean, totalVariance: trace, ...eig };
}

/**
 * Top-k eigenpairs of the symmetric dim x dim matrix `cov` by block subspace iteration: multiply
 * the block by C (tf.matMul), Rayleigh-Ritz on the projected p x p problem, re-orthonormalise.
 */
function topEigenvectors(
  cov: Float64Array,
  dim: number,
  k: number,
  opts: PcaOptions,
): Pick<Pca, 'components' | 'explainedVariance' | 'iterations' | 'residual' | 'converged'> {
  const p = Math.min(dim, k + (opts.oversample ?? 10));
  // A block that large converges slowly (close eigenvalues) and its Rayleigh-Ritz step costs
  // nearly a full decomposition anyway: decompose the covariance once.
  if (p * FULL_DECOMPOSITION_RATIO > dim) return fullEigenvectors(cov, dim, k);
  const maxIterations = opts.maxIterations ?? 500;
  const tolerance = opts.tolerance ?? 1e-5;
  const rng = new Rng(opts.seed ?? 1);

  // The block is kept as p rows of length dim (Qᵀ); since C is symmetric, (CQ)ᵀ = Qᵀ C.
  let q = new Float64Array(p * dim);
  for (let i = 0; i < q.length; i++) q[i] = rng.normal();
  orthonormaliseRows(q, p, dim, rng);
  const c = tf.tensor2d(Float32Array.from(cov), [dim, dim]);
  const ritz = new Float64Array(p * dim);
  const cRitz = new Float64Array(p * dim);
  let values: Float64Array = new Float64Array(p);
  let residual = Infinity;
  let iterations = 0;
  try {
    while (iterations < maxIterations) {
      iterations++;
      const z = multiplyRows(c, q, p, dim);
      const h = new Float64Array(p * p);
      for (let i = 0; i < p; i++) {
        for (let j = i; j < p; j++) {
          // Average the two dot products: the float32 product is only symmetric to rounding.
          const s = 0.5 * (dot(q, i * dim, z, j * dim, dim) + dot(z, i * dim, q, j * dim, dim));
          h[i * p + j] = s;
          h[j * p + i] = s;
        }
      }
      const e = symmetricEigen(h, p);
      values = e.values;
      combineRows(e.vectors, q, p, dim, ritz);
      combineRows(e.vectors, z, p, dim, cRitz);
      const scale = Math.max(values[0]!, Number.MIN_VALUE);
      residual = 0;
      for (let i = 0; i < k; i++) {
        let s = 0;
        for (let j = 0; j < dim; j++) {
          const d = cRitz[i * dim + j]! - values[i]! * ritz[i * dim + j]!;
          s += d * d;
        }
        residual = Math.max(residual, Math.sqrt(s) / scale);
      }
      if (residual < tolerance || values[0]! <= 0) break;
      q = cRitz.slice();
      orthonormaliseRows(q, p, dim, rng);
    }
  } finally {
    c.dispose();
  }

  const components = orientedComponents(k, dim, (i, j) => ritz[i * dim + j]!);
  const explainedVariance = Float32Array.from(values.subarray(0, k), (v) => Math.max(v, 0));
  return { components, explainedVariance, iterations, residual, converged: residual < tolerance };
}

/**
 * k x dim components from entry(i, j) of eigenvector i, each signed so that its largest-magnitude
 * entry is positive: the same fit gives the same components, whichever solver found them.
 */
function orientedComponents(k: number, dim: number, entry: (i: number, j: number) => number): Float32Array {
  const components = new Float32Array(k * dim);
  for (let i = 0; i < k; i++) {
    let big = 0;
    for (let j = 0; j < dim; j++) if (Math.abs(entry(i, j)) > Math.abs(big)) big = entry(i, j);
    const sign = big < 0 ? -1 : 1;
    for (let j = 0; j < dim; j++) components[i * dim + j] = sign * entry(i, j);
  }
  return components;
}

/** Above dim / this many components, the covariance is decomposed whole. */
const FULL_DECOMPOSITION_RATIO = 8;

/** The top k eigenpairs from a full decomposition of the covariance (exact, O(dim^3)). */
function fullEigenvectors(
  cov: Float64Array,
  dim: number,
  k: number,
): Pick<Pca, 'components' | 'explainedVariance' | 'iterations' | 'residual' | 'converged'> {
  const { values, vectors } = symmetricEigen(cov, dim);
  const components = orientedComponents(k, dim, (i, j) => vectors[j * dim + i]!);
  const explainedVariance = Float32Array.from(values.subarray(0, k), (v) => Math.max(v, 0));
  return { components, explainedVariance, iterations: 0, residual: 0, converged: true };
}

/** Rows of `rows` (p x dim, float64) times the symmetric tensor `c`, back as float64. */
function multiplyRows(c: tf.Tensor2D, rows: Float64Array, p: number, dim: number): Float64Array {
  const out = tf.tidy(() => tf.matMul(tf.tensor2d(Float32Array.from(rows), [p, dim]), c));
  const v = out.dataSync();
  out.dispose();
  return Float64Array.from(v);
}

/** out row i = Σ_j vectors[j][i] · rows[j]: the block rotated onto the Ritz vectors. */
function combineRows(
  vectors: Float64Array,
  rows: Float64Array,
  p: number,
  dim: number,
  out: Float64Array,
): void {
  out.fill(0);
  for (let i = 0; i < p; i++) {
    const o = i * dim;
    for (let j = 0; j < p; j++) {
      const w = vectors[j * p + i]!;
      if (w === 0) continue;
      const src = j * dim;
      for (let t = 0; t < dim; t++) out[o + t]! += w * rows[src + t]!;
    }
  }
}

function dot(a: Float64Array, ao: number, b: Float64Array, bo: number, n: number): number {
  let s = 0;
  for (let t = 0; t < n; t++) s += a[ao + t]! * b[bo + t]!;
  return s;
}

/**
 * Modified Gram-Schmidt on the rows, in order (so leading directions stay leading), run twice for
 * float64 orthogonality; a row that vanishes (rank-deficient data) is replaced by a random one.
 */
function orthonormaliseRows(rows: Float64Array, p: number, dim: number, rng: Rng): void {
  for (let i = 0; i < p; i++) {
    const o = i * dim;
    const before = Math.sqrt(dot(rows, o, rows, o, dim));
    for (let attempt = 0; ; attempt++) {
      for (let pass = 0; pass < 2; pass++) {
        for (let j = 0; j < i; j++) {
          const d = dot(rows, o, rows, j * dim, dim);
          for (let t = 0; t < dim; t++) rows[o + t]! -= d * rows[j * dim + t]!;
        }
      }
      const norm = Math.sqrt(dot(rows, o, rows, o, dim));
      if (norm > 1e-10 * Math.max(before, 1e-300) && norm > 1e-300) {
        for (let t = 0; t < dim; t++) rows[o + t]! /= norm;
        break;
      }
      if (attempt > 10)
        throw new Error(`pca: cannot complete an orthonormal basis of ${p} rows in ${dim} dims`);
      for (let t = 0; t < dim; t++) rows[o + t] = rng.normal();
    }
  }
}

/** Codes (count x k) of `count` rows of `pca.dim` values: (x − mean) · componentsᵀ. */
export function pcaEncode(pca: Pca, data: Float32Array, count: number): Float32Array {
  const out = new Float32Array(count * pca.k);
  // Transposed once here: wasm's matMul with a transpose flag set runs about 10x slower.
  const comps = tf.tidy(() => tf.transpose(tf.tensor2d(pca.components, [pca.k, pca.dim])));
  const mean = tf.tensor1d(pca.mean);
  try {
    for (let start = 0; start < count; start += TRANSFORM_CHUNK_ROWS) {
      const rows = Math.min(TRANSFORM_CHUNK_ROWS, count - start);
      const codes = tf.tidy(() => {
        const x = tf.tensor2d(data.subarray(start * pca.dim, (start + rows) * pca.dim), [rows, pca.dim]);
        return tf.matMul(tf.sub(x, mean), comps);
      });
      out.set(codes.dataSync(), start * pca.k);
      codes.dispose();
    }
  } finally {
    comps.dispose();
    mean.dispose();
  }
  return out;
}

/** Rows (count x dim) rebuilt from codes (count x k): mean + code · components. */
export function pcaReconstruct(pca: Pca, codes: Float32Array, count: number): Float32Array {
  const out = new Float32Array(count * pca.dim);
  const comps = tf.tensor2d(pca.components, [pca.k, pca.dim]);
  const mean = tf.tensor1d(pca.mean);
  try {
    for (let start = 0; start < count; start += TRANSFORM_CHUNK_ROWS) {
      const rows = Math.min(TRANSFORM_CHUNK_ROWS, count - start);
      const x = tf.tidy(() => {
        const z = tf.tensor2d(codes.subarray(start * pca.k, (start + rows) * pca.k), [rows, pca.k]);
        return tf.add(tf.matMul(z, comps), mean);
      });
      out.set(x.dataSync(), start * pca.dim);
      x.dispose();
    }
  } finally {
    comps.dispose();
    mean.dispose();
  }
  return out;
}
