/** Helpers for the model tests: finite-difference gradient checks, a tiny Adam, synthetic images. */
import assert from 'node:assert/strict';
import { Rng } from '../data/rng.js';
import type { GanModel } from './gan-loss.js';
import { flatLength, paramOffsets } from './model.js';
import type { Model } from './model.js';

/** How far an analytic gradient may be from the numeric one, entry by entry. */
export interface GradTolerance {
  readonly atol: number;
  readonly rtol: number;
  /**
   * Allow for kinks (ReLU, LeakyReLU, max-pool switches): an entry whose forward and backward
   * differences disagree has a kink within eps, where the central difference means nothing; it
   * passes when the analytic gradient equals one of the one-sided differences (the slope on the
   * side the parameter sits on). Such entries are counted. Costs one more loss evaluation.
   */
  readonly kinks?: boolean;
}

/** Worst disagreement between an analytic gradient and central differences. */
export interface GradCheck {
  /** ||numeric - analytic|| / (||numeric|| + ||analytic||). */
  readonly relativeError: number;
  /** The entry furthest outside |numeric - analytic| <= atol + rtol * max(|numeric|, |analytic|). */
  readonly worst: { readonly index: number; readonly numeric: number; readonly analytic: number };
  /** Its |numeric - analytic| / (atol + rtol * max(|numeric|, |analytic|)); at most 1 passes. */
  readonly worstRatio: number;
  /** Entries judged by a one-sided difference for a kink within eps (0 unless tolerance.kinks). */
  readonly kinks: number;
}

/**
 * Compares `analytic` with (loss(p + eps e_i) - loss(p - eps e_i)) / (2 eps) for every entry i of
 * `params` (restored afterwards), or with a one-sided difference at a kink when `tolerance.kinks`.
 * The defaults suit float32 losses of order 1-100 with eps 1e-2.
 */
export function checkGradient(
  loss: (params: Float32Array) => number,
  params: Float32Array,
  analytic: Float32Array,
  eps: number,
  tolerance: GradTolerance = { atol: 1e-3, rtol: 1e-2 },
): GradCheck {
  const ratio = (x: number, y: number): number =>
    Math.abs(x - y) / (tolerance.atol + tolerance.rtol * Math.max(Math.abs(x), Math.abs(y)));
  const mid = tolerance.kinks ? loss(params) : NaN;
  let diff2 = 0;
  let num2 = 0;
  let ana2 = 0;
  let worst = { index: -1, numeric: 0, analytic: 0 };
  let worstRatio = -1;
  let kinks = 0;
  for (let i = 0; i < params.length; i++) {
    const keep = params[i]!;
    params[i] = keep + eps;
    const up = loss(params);
    params[i] = keep - eps;
    const down = loss(params);
    params[i] = keep;
    // The points actually probed in float32, not the nominal keep +- eps.
    const upAt = Math.fround(keep + eps);
    const downAt = Math.fround(keep - eps);
    let numeric = (up - down) / (upAt - downAt);
    const a = analytic[i]!;
    let r = ratio(numeric, a);
    if (tolerance.kinks && r > 1) {
      const forward = (up - mid) / (upAt - keep);
      const backward = (mid - down) / (keep - downAt);
      if (ratio(forward, backward) > 2) {
        kinks++;
        numeric = ratio(forward, a) < ratio(backward, a) ? forward : backward;
        r = ratio(numeric, a);
      }
    }
    if (r > worstRatio) {
      worstRatio = r;
      worst = { index: i, numeric, analytic: a };
    }
    const d = numeric - a;
    diff2 += d * d;
    num2 += numeric * numeric;
    ana2 += a * a;
  }
  return {
    relativeError: Math.sqrt(diff2) / (Math.sqrt(num2) + Math.sqrt(ana2) + 1e-12),
    worst,
    worstRatio,
    kinks,
  };
}

/**
 * Trains `model` in place with Adam (or plain SGD when `adam` is false) on full passes over
 * `data` in batches of `batchSize`; returns the mean step loss of the first and last pass.
 */
export function train(
  model: Model,
  params: Float32Array,
  data: Float32Array,
  count: number,
  opts: {
    readonly epochs: number;
    readonly batchSize: number;
    readonly lr: number;
    readonly adam: boolean;
    readonly rng: Rng;
  },
): { first: number; last: number } {
  const m = new Float32Array(params.length);
  const v = new Float32Array(params.length);
  const b1 = 0.9;
  const b2 = 0.999;
  let t = 0;
  let first = NaN;
  let last = NaN;
  for (let e = 0; e < opts.epochs; e++) {
    let sum = 0;
    let batches = 0;
    for (let start = 0; start < count; start += opts.batchSize) {
      const rows = Math.min(opts.batchSize, count - start);
      const batch = data.subarray(start * model.inputSize, (start + rows) * model.inputSize);
      const { loss, grads } = model.step(params, batch, rows, opts.rng);
      sum += loss;
      batches++;
      t++;
      for (let i = 0; i < params.length; i++) {
        const g = grads[i]!;
        if (!opts.adam) {
          params[i] = params[i]! - opts.lr * g;
          continue;
        }
        m[i] = b1 * m[i]! + (1 - b1) * g;
        v[i] = b2 * v[i]! + (1 - b2) * g * g;
        const mh = m[i]! / (1 - b1 ** t);
        const vh = v[i]! / (1 - b2 ** t);
        params[i] = params[i]! - (opts.lr * mh) / (Math.sqrt(vh) + 1e-8);
      }
    }
    if (e === 0) first = sum / batches;
    last = sum / batches;
  }
  return { first, last };
}

/**
 * `count` side x side images of random horizontal or vertical bars (each bar on with probability
 * 1/2 - the classic RBM toy set), values in {0.1, 0.9} so that they are probabilities.
 */
export function barsImages(side: number, count: number, rng: Rng): Float32Array {
  const out = new Float32Array(count * side * side);
  for (let n = 0; n < count; n++) {
    const vertical = rng.uniform() < 0.5;
    const on = Array.from({ length: side }, () => rng.uniform() < 0.5);
    for (let r = 0; r < side; r++) {
      for (let c = 0; c < side; c++) out[n * side * side + r * side + c] = on[vertical ? c : r] ? 0.9 : 0.1;
    }
  }
  return out;
}

/** A named parameter of the flat buffer, as a float64 row-major array. */
export function paramValues(model: Model, params: Float32Array, name: string): Float64Array {
  const { offset, size } = paramOffsets(model.paramSpecs).get(name)!;
  return Float64Array.from(params.subarray(offset, offset + size));
}

/** Adds N(0, scale²) noise (from a generator seeded by `seed`) to every parameter, in place. */
export function perturb(params: Float32Array, seed: number, scale: number): Float32Array {
  const noise = new Rng(seed).fillNormal(new Float32Array(params.length), 0, scale);
  for (let i = 0; i < params.length; i++) params[i] = params[i]! + noise[i]!;
  return params;
}

/**
 * Checks a GAN step's two slices by finite differences: the g. slice against its g_loss and the
 * d. slice against its d_loss, each with the same z (a step generator seeded by `stepSeed`), so only
 * the perturbed parameter moves the loss. Kinks (ReLU, LeakyReLU) are allowed for.
 */
export function ganSliceChecks(
  model: GanModel,
  params: Float32Array,
  batch: Float32Array,
  count: number,
  stepSeed: number,
  eps: number,
): { what: string; size: number; check: GradCheck }[] {
  const out = new Float32Array(params.length);
  if (model.step(params, batch, count, new Rng(stepSeed), out).grads !== out) {
    throw new Error('the step did not write its gradient into the buffer it was given');
  }
  const gLength = flatLength(model.generatorSpecs);
  const slices = [
    { what: 'g_loss', from: 0, to: gLength },
    { what: 'd_loss', from: gLength, to: params.length },
  ];
  return slices.map(({ what, from, to }) => {
    const full = Float32Array.from(params);
    const loss = (slice: Float32Array): number => {
      full.set(slice, from);
      return model.step(full, batch, count, new Rng(stepSeed)).extras![what]!;
    };
    const check = checkGradient(loss, params.slice(from, to), out.subarray(from, to), eps, {
      atol: 2e-3,
      rtol: 1e-2,
      kinks: true,
    });
    return { what, size: to - from, check };
  });
}

/** The rows of a flat row-major buffer of `n` columns, as arrays. */
export function rows(flat: Float32Array, n: number): number[][] {
  return Array.from({ length: flat.length / n }, (_, r) => Array.from(flat.subarray(r * n, (r + 1) * n)));
}

/** Asserts |actual_i − expected_i| <= tol for every i, naming `what` and the first index off. */
export function assertClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  tol: number,
  what: string,
): void {
  assert.equal(actual.length, expected.length, what);
  for (let i = 0; i < actual.length; i++) {
    assert.ok(Math.abs(actual[i]! - expected[i]!) <= tol, `${what}[${i}]: ${actual[i]} vs ${expected[i]}`);
  }
}

const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));
const softplus = (x: number): number => Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x)));

/**
 * A Bernoulli RBM in float64 for reference computations, reading the `rbm` model's flat layout
 * at `offset` of `p`: w (n visible x m hidden), visible bias (n), hidden bias (m). A DBN's blocks
 * have the same layout.
 */
export class RbmReference {
  constructor(
    readonly n: number,
    readonly m: number,
    readonly p: Float32Array,
    readonly offset = 0,
  ) {}
  /** Values of the block. */
  get size(): number {
    return this.n * this.m + this.n + this.m;
  }
  w(i: number, j: number): number {
    return this.p[this.offset + i * this.m + j]!;
  }
  a(i: number): number {
    return this.p[this.offset + this.n * this.m + i]!;
  }
  b(j: number): number {
    return this.p[this.offset + this.n * this.m + this.n + j]!;
  }
  /** p(h = 1 | v) per hidden unit. */
  hidden(v: number[]): number[] {
    return Array.from({ length: this.m }, (_, j) => {
      let s = this.b(j);
      for (let i = 0; i < this.n; i++) s += v[i]! * this.w(i, j);
      return sigmoid(s);
    });
  }
  /** p(v = 1 | h) per visible unit. */
  visible(h: number[]): number[] {
    return Array.from({ length: this.n }, (_, i) => {
      let s = this.a(i);
      for (let j = 0; j < this.m; j++) s += h[j]! * this.w(i, j);
      return sigmoid(s);
    });
  }
  /** F(v) = −a·v − Σ_j softplus(b_j + (v W)_j). */
  freeEnergy(v: number[]): number {
    let f = 0;
    for (let i = 0; i < this.n; i++) f -= v[i]! * this.a(i);
    for (let j = 0; j < this.m; j++) {
      let s = this.b(j);
      for (let i = 0; i < this.n; i++) s += v[i]! * this.w(i, j);
      f -= softplus(s);
    }
    return f;
  }
}

/** Samples rows of probabilities in row-major order, as the models draw them. */
export function sampleRows(ps: number[][], rng: Rng): number[][] {
  return ps.map((row) => row.map((p) => (Math.fround(rng.uniform()) < Math.fround(p) ? 1 : 0)));
}

/**
 * CD-k in float64 (probabilities for visible reconstructions, sampled hidden states), the update
 * laid out as w, visible bias, hidden bias; loss: squared reconstruction error per image.
 */
export function referenceCd(
  ref: RbmReference,
  v0: number[][],
  k: number,
  decay: number,
  rng: Rng,
): { loss: number; grads: number[] } {
  const { n, m } = ref;
  const bsz = v0.length;
  const ph0 = v0.map((v) => ref.hidden(v));
  let pv = sampleRows(ph0, rng).map((h) => ref.visible(h));
  let loss = 0;
  v0.forEach((v, r) => v.forEach((x, i) => (loss += (x - pv[r]![i]!) ** 2)));
  let ph = pv.map((v) => ref.hidden(v));
  for (let s = 2; s <= k; s++) {
    pv = sampleRows(ph, rng).map((h) => ref.visible(h));
    ph = pv.map((v) => ref.hidden(v));
  }
  const grads: number[] = [];
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < m; j++) {
      let s = 0;
      for (let r = 0; r < bsz; r++) s += v0[r]![i]! * ph0[r]![j]! - pv[r]![i]! * ph[r]![j]!;
      grads.push(-s / bsz + decay * ref.w(i, j));
    }
  }
  for (let i = 0; i < n; i++) grads.push(-v0.reduce((s, v, r) => s + v[i]! - pv[r]![i]!, 0) / bsz);
  for (let j = 0; j < m; j++) grads.push(-ph0.reduce((s, h, r) => s + h[j]! - ph[r]![j]!, 0) / bsz);
  return { loss: loss / bsz, grads };
}
