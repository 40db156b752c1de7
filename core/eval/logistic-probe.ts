/**
 * A linear probe: multinomial logistic regression on frozen features (a model's codes, or raw
 * pixels for the reference), trained on a small labelled subset of the training set. How well a
 * linear classifier reads the classes off the codes is the usual measure of what an unsupervised
 * model has learned. Full-batch L-BFGS on standardised features, loss and gradient in tf ops.
 */
import { tf } from '../compute/tf.js';
import { Rng } from '../data/rng.js';
import { ConfigError } from '../errors.js';

/** A trained probe: class scores are ((x − mean) / std) · weights + bias. */
export interface Probe {
  readonly dim: number;
  readonly classes: number;
  /** Feature means and standard deviations of the training subset (dim each). */
  readonly mean: Float32Array;
  readonly std: Float32Array;
  /** dim x classes, row-major. */
  readonly weights: Float32Array;
  readonly bias: Float32Array;
  /** Regularised training loss (mean cross-entropy + l2/2 ‖W‖²) at the end. */
  readonly loss: number;
  readonly iterations: number;
  /** Whether the gradient tolerance was met within the iteration limit. */
  readonly converged: boolean;
}

/** Knobs of {@link trainProbe}. */
export interface ProbeOptions {
  /**
   * L2 penalty on the weights (not the bias), added to the mean cross-entropy as l2/2 ‖W‖².
   * Default 0.01, which on standardised Fashion-MNIST pixels with 100 labels per class lands
   * near the scikit-learn reference (C = 1 on unscaled pixels).
   */
  readonly l2?: number;
  /** Number of classes; default: the largest training label + 1. */
  readonly classes?: number;
  /** Default 500. */
  readonly maxIterations?: number;
  /** Stop when the largest gradient component falls below this (float32 resolves ~1e-5). Default 1e-4. */
  readonly gradientTolerance?: number;
}

const DEFAULT_L2 = 0.01;
/** Pairs of (step, gradient change) L-BFGS remembers. */
const HISTORY = 10;
/** Rows per chunk when scoring many examples (bounds tensor memory). */
const SCORE_CHUNK = 5000;

/**
 * Indices (ascending) of up to `perClass` examples of every class, drawn without replacement by a
 * seeded shuffle of each class's indices: the same labels and seed always give the same subset.
 */
export function selectLabelledSubset(labels: ArrayLike<number>, perClass = 100, seed = 0): Int32Array {
  if (!Number.isInteger(perClass) || perClass < 1) {
    throw new ConfigError('probe-per-class', `must be a positive integer, got ${perClass}`);
  }
  const byClass = new Map<number, number[]>();
  for (let i = 0; i < labels.length; i++) {
    const c = labels[i]!;
    let list = byClass.get(c);
    if (!list) byClass.set(c, (list = []));
    list.push(i);
  }
  const chosen: number[] = [];
  // Classes in numeric order and one stream per class, so a class's pick does not depend on others.
  for (const c of [...byClass.keys()].sort((a, b) => a - b)) {
    const list = byClass.get(c)!;
    new Rng(seed ^ Math.imul(c + 1, 0x9e3779b1)).shuffle(list);
    chosen.push(...list.slice(0, perClass));
  }
  return Int32Array.from(chosen.sort((a, b) => a - b));
}

/**
 * Trains a probe on `count` rows of `dim` features (row-major) with class `labels`, to
 * convergence of full-batch L-BFGS (the problem is strictly convex for l2 > 0).
 */
export function trainProbe(
  features: Float32Array,
  labels: ArrayLike<number>,
  count: number,
  dim: number,
  opts: ProbeOptions = {},
): Probe {
  if (count < 1 || features.length < count * dim || labels.length < count) {
    throw new ConfigError('probe', `need ${count} rows of ${dim} features and ${count} labels`);
  }
  let maxLabel = 0;
  for (let i = 0; i < count; i++) maxLabel = Math.max(maxLabel, labels[i]!);
  const classes = opts.classes ?? maxLabel + 1;
  if (maxLabel >= classes)
    throw new ConfigError('probe', `label ${maxLabel} out of range for ${classes} classes`);
  const l2 = opts.l2 ?? DEFAULT_L2;
  const { mean, std } = standardisation(features, count, dim);

  const nParams = dim * classes + classes;
  const x = tf.tidy(() =>
    standardise(tf.tensor2d(features.subarray(0, count * dim), [count, dim]), mean, std),
  );
  const xt = tf.transpose(x);
  const y = tf.tidy(() =>
    tf.oneHot(
      tf.tensor1d(
        Int32Array.from({ length: count }, (_, i) => labels[i]!),
        'int32',
      ),
      classes,
    ),
  );
  const objective = (theta: Float64Array): { f: number; g: Float64Array } => {
    const [lossT, gW, gb] = tf.tidy(() => {
      const w = tf.tensor2d(Float32Array.from(theta.subarray(0, dim * classes)), [dim, classes]);
      const b = tf.tensor1d(Float32Array.from(theta.subarray(dim * classes)));
      const logp = tf.logSoftmax(tf.add(tf.matMul(x, w), b));
      const ce = tf.neg(tf.mean(tf.sum(tf.mul(y, logp), 1)));
      const loss = tf.add(ce, tf.mul(0.5 * l2, tf.sum(tf.square(w))));
      const g = tf.div(tf.sub(tf.exp(logp), y), count);
      return [loss, tf.add(tf.matMul(xt, g), tf.mul(l2, w)), tf.sum(g, 0)];
    });
    const grad = new Float64Array(nParams);
    grad.set(gW.dataSync());
    grad.set(gb.dataSync(), dim * classes);
    const f = lossT.dataSync()[0]!;
    tf.dispose([lossT, gW, gb]);
    return { f, g: grad };
  };
  let result: LbfgsResult;
  try {
    result = lbfgs(
      objective,
      new Float64Array(nParams),
      opts.maxIterations ?? 500,
      opts.gradientTolerance ?? 1e-4,
    );
  } finally {
    tf.dispose([x, xt, y]);
  }
  return {
    dim,
    classes,
    mean,
    std,
    weights: Float32Array.from(result.theta.subarray(0, dim * classes)),
    bias: Float32Array.from(result.theta.subarray(dim * classes)),
    loss: result.f,
    iterations: result.iterations,
    converged: result.converged,
  };
}

/** Predicted class of each of `count` rows of features. */
export function probePredict(probe: Probe, features: Float32Array, count: number): Int32Array {
  const out = new Int32Array(count);
  const w = tf.tensor2d(probe.weights, [probe.dim, probe.classes]);
  const b = tf.tensor1d(probe.bias);
  try {
    for (let start = 0; start < count; start += SCORE_CHUNK) {
      const rows = Math.min(SCORE_CHUNK, count - start);
      const pred = tf.tidy(() => {
        const xs = tf.tensor2d(features.subarray(start * probe.dim, (start + rows) * probe.dim), [
          rows,
          probe.dim,
        ]);
        return tf.argMax(tf.add(tf.matMul(standardise(xs, probe.mean, probe.std), w), b), 1);
      });
      out.set(pred.dataSync(), start);
      pred.dispose();
    }
  } finally {
    tf.dispose([w, b]);
  }
  return out;
}

/** Fraction of `count` rows whose predicted class equals the label. */
export function probeAccuracy(
  probe: Probe,
  features: Float32Array,
  labels: ArrayLike<number>,
  count: number,
): number {
  if (count === 0) return NaN;
  const pred = probePredict(probe, features, count);
  let right = 0;
  for (let i = 0; i < count; i++) if (pred[i] === labels[i]) right++;
  return right / count;
}

function standardisation(
  features: Float32Array,
  count: number,
  dim: number,
): { mean: Float32Array; std: Float32Array } {
  const sum = new Float64Array(dim);
  const sq = new Float64Array(dim);
  for (let r = 0; r < count; r++) {
    const o = r * dim;
    for (let j = 0; j < dim; j++) sum[j]! += features[o + j]!;
  }
  for (let j = 0; j < dim; j++) sum[j]! /= count;
  for (let r = 0; r < count; r++) {
    const o = r * dim;
    for (let j = 0; j < dim; j++) {
      const d = features[o + j]! - sum[j]!;
      sq[j]! += d * d;
    }
  }
  const mean = Float32Array.from(sum);
  // A feature constant on the subset (a border pixel) keeps scale 1 rather than dividing by ~0.
  const std = Float32Array.from(sq, (s) => {
    const v = Math.sqrt(s / count);
    return v > 1e-6 ? v : 1;
  });
  return { mean, std };
}

function standardise(x: tf.Tensor2D, mean: Float32Array, std: Float32Array): tf.Tensor2D {
  return tf.tidy(() => tf.div(tf.sub(x, tf.tensor1d(mean)), tf.tensor1d(std)));
}

interface LbfgsResult {
  readonly theta: Float64Array;
  readonly f: number;
  readonly iterations: number;
  readonly converged: boolean;
}

/**
 * Limited-memory BFGS (Nocedal & Wright, Alg. 7.4/7.5) with a backtracking Armijo line search;
 * curvature pairs with sᵀy ≤ 0 are skipped so the implicit Hessian stays positive definite.
 */
function lbfgs(
  fg: (theta: Float64Array) => { f: number; g: Float64Array },
  theta0: Float64Array,
  maxIterations: number,
  gradientTolerance: number,
): LbfgsResult {
  const n = theta0.length;
  let theta: Float64Array = theta0.slice();
  let { f, g } = fg(theta);
  const ss: Float64Array[] = [];
  const ys: Float64Array[] = [];
  const rhos: number[] = [];
  let iterations = 0;
  let converged = maxAbs(g) < gradientTolerance;
  while (!converged && iterations < maxIterations) {
    iterations++;
    // Two-loop recursion: d = −H g.
    const d = g.slice();
    const alphas = new Array<number>(ss.length);
    for (let i = ss.length - 1; i >= 0; i--) {
      const a = rhos[i]! * dotv(ss[i]!, d);
      alphas[i] = a;
      axpy(-a, ys[i]!, d);
    }
    const last = ss.length - 1;
    const gamma =
      last >= 0 ? dotv(ss[last]!, ys[last]!) / dotv(ys[last]!, ys[last]!) : 1 / Math.max(norm2(g), 1e-12);
    for (let i = 0; i < n; i++) d[i]! *= gamma;
    for (let i = 0; i < ss.length; i++) {
      const beta = rhos[i]! * dotv(ys[i]!, d);
      axpy(alphas[i]! - beta, ss[i]!, d);
    }
    for (let i = 0; i < n; i++) d[i] = -d[i]!;
    let slope = dotv(g, d);
    if (slope >= 0) {
      // Not a descent direction (numerical trouble): restart from steepest descent.
      ss.length = ys.length = rhos.length = 0;
      for (let i = 0; i < n; i++) d[i] = -g[i]! / Math.max(norm2(g), 1e-12);
      slope = dotv(g, d);
    }
    let step = 1;
    let accepted: { theta: Float64Array; f: number; g: Float64Array } | null = null;
    for (let tries = 0; tries < 20 && !accepted; tries++, step *= 0.5) {
      const next = theta.slice();
      axpy(step, d, next);
      const trial = fg(next);
      if (trial.f <= f + 1e-4 * step * slope) accepted = { theta: next, ...trial };
    }
    // No decrease even at a step of 2^-19: the float32 loss cannot resolve further progress.
    if (!accepted) break;
    const s = new Float64Array(n);
    const yv = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      s[i] = accepted.theta[i]! - theta[i]!;
      yv[i] = accepted.g[i]! - g[i]!;
    }
    const sy = dotv(s, yv);
    ({ theta, f, g } = accepted);
    if (sy > 1e-12 * norm2(s) * norm2(yv)) {
      ss.push(s);
      ys.push(yv);
      rhos.push(1 / sy);
      if (ss.length > HISTORY) {
        ss.shift();
        ys.shift();
        rhos.shift();
      }
    }
    converged = maxAbs(g) < gradientTolerance;
  }
  return { theta, f, iterations, converged };
}

function dotv(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

function axpy(a: number, x: Float64Array, y: Float64Array): void {
  for (let i = 0; i < y.length; i++) y[i]! += a * x[i]!;
}

function norm2(a: Float64Array): number {
  return Math.sqrt(dotv(a, a));
}

function maxAbs(a: Float64Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]!));
  return m;
}
