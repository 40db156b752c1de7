/**
 * A lower bound on log p(v) under a deep belief net, after Salakhutdinov & Murray, "On the
 * quantitative analysis of deep belief networks" (ICML 2008), section 5.
 *
 * The net has layers h_0 = v, h_1, ..., h_L and RBMs 1..L, RBM i between h_{i-1} (visible, bias
 * a_i) and h_i (hidden, bias b_i). Generatively, the top RBM gives
 * p(h_{L-1}) = p*(h_{L-1}) / Z with p* = exp(-F_L) its unnormalised marginal, and each RBM below is
 * a directed layer p(h_{i-1} | h_i) = prod_k Bern(sigmoid(h_i W_i^T + a_i)_k). The approximate
 * posterior is the stochastic up-pass q(h_1..h_{L-1} | v) = prod_i q(h_i | h_{i-1}),
 * q(h_i | h_{i-1}) = prod_j Bern(sigmoid(h_{i-1} W_i + b_i)_j). By Jensen's inequality
 *   log p(v) >= E_q[log w] - log Z,
 *   log w = log p(v | h_1) + sum_{i=2}^{L-1} log p(h_{i-1} | h_i) + log p*(h_{L-1}) - log q(h | v),
 * which for two hidden layers is the paper's bound
 * E_q(h1|v)[log p*(h1) + log p(v | h1)] + H(q(h1 | v)) - log Z, and for L = 1 is log p(v) exactly.
 * The gap is KL(q(h | v) || p(h | v)).
 *
 * E_q[log w] is estimated by drawing h ~ q(h | v). The sample's log q(h | v) stands in for the
 * entropy rather than the closed form: the expectation is the same, and log w itself equals
 * log p(v) for every sample when q is the true posterior, so its spread shrinks as q improves.
 * Visible vectors are binarised at 0.5. Scores run as tf ops in chunks; sums are float64.
 */
import { tf } from '../compute/tf.js';
import type { Rng } from '../data/rng.js';
import { HarmoniumError } from '../errors.js';
import { bernoulliNll } from '../models/layers.js';
import { bernoulli, freeEnergy } from '../models/rbm-energy.js';
import type { RbmTensors } from '../models/rbm-energy.js';
import { BASE_RATE_CLIP } from './rbm-ais.js';
import type { RbmWeights } from './rbm-likelihood.js';

/** Rows (images x samples) scored per tf call. */
const CHUNK_ROWS = 1000;

/** What {@link dbnBoundTerms} estimates. */
export interface DbnBoundTerms {
  /** Mean over the images of E_q[log w]: the lower bound on the mean log p(v) is this minus log Z. */
  readonly meanLogWeight: number;
  /** Per image, the mean of log w over its samples (float64). */
  readonly logWeights: Float64Array;
  /**
   * Visible biases of a base-rate start model for AIS on the top RBM: log(p / (1 - p)) with p the
   * fraction of sampled h_{L-1} states (of the binarised images themselves for L = 1) with each
   * unit on, clipped to [BASE_RATE_CLIP, 1 - BASE_RATE_CLIP] as `baseRateBias` does.
   */
  readonly topBaseBias: Float32Array;
}

function checkNet(rbms: readonly RbmWeights[], data: Float32Array, count: number, samples: number): void {
  if (rbms.length === 0) throw new HarmoniumError('MODEL_INVALID', 'DBN bound: the net has no RBM');
  rbms.forEach((r, i) => {
    const below = i === 0 ? r.visible : rbms[i - 1]!.hidden;
    const ok =
      r.visible === below &&
      r.w.length === r.visible * r.hidden &&
      r.visibleBias.length === r.visible &&
      r.hiddenBias.length === r.hidden;
    if (!ok) {
      throw new HarmoniumError(
        'MODEL_INVALID',
        `DBN bound: RBM ${i + 1} (${r.visible} x ${r.hidden}, w ${r.w.length}, biases ` +
          `${r.visibleBias.length} and ${r.hiddenBias.length}) does not fit a layer of ${below} below it`,
      );
    }
  });
  const n = rbms[0]!.visible;
  if (!Number.isInteger(count) || count < 1 || data.length < count * n) {
    throw new HarmoniumError(
      'MODEL_INVALID',
      `DBN bound: need at least one image of ${n} values, got ${count} images in ${data.length} values`,
    );
  }
  if (!Number.isInteger(samples) || samples < 1) {
    throw new HarmoniumError(
      'MODEL_INVALID',
      `DBN bound: need at least one sample per image, got ${samples}`,
    );
  }
}

/**
 * Estimates E_q[log w] (see the file comment) for each of the `count` images in `data` (rows of
 * the bottom RBM's visible size, binarised at 0.5) from `samples` independent draws of the up-pass
 * posterior each. Random numbers: per chunk of rows (each image repeated `samples` times, in
 * order), per hidden layer 1..L-1 one uniform per unit in row-major order.
 */
export function dbnBoundTerms(
  rbms: readonly RbmWeights[],
  data: Float32Array,
  count: number,
  rng: Rng,
  samples = 1,
): DbnBoundTerms {
  checkNet(rbms, data, count, samples);
  const n = rbms[0]!.visible;
  const top = rbms.length - 1;
  const topVisible = rbms[top]!.visible;
  const logWeights = new Float64Array(count);
  const on = new Float64Array(topVisible);
  const nets: RbmTensors[] = rbms.map((r) =>
    tf.tidy(() => ({
      w: tf.tensor2d(r.w, [r.visible, r.hidden], 'float32'),
      visibleBias: tf.tensor1d(r.visibleBias, 'float32'),
      hiddenBias: tf.tensor1d(r.hiddenBias, 'float32'),
    })),
  );
  try {
    const imagesPerChunk = Math.max(1, Math.floor(CHUNK_ROWS / samples));
    for (let start = 0; start < count; start += imagesPerChunk) {
      const images = Math.min(imagesPerChunk, count - start);
      const rows = images * samples;
      const v = new Float32Array(rows * n);
      for (let r = 0; r < rows; r++) {
        const src = (start + Math.floor(r / samples)) * n;
        for (let i = 0; i < n; i++) v[r * n + i] = data[src + i]! > 0.5 ? 1 : 0;
      }
      const [logW, onCounts] = tf.tidy(() => {
        let below = tf.tensor2d(v, [rows, n], 'float32');
        let logw: tf.Tensor1D = tf.zeros([rows]);
        for (let i = 0; i < top; i++) {
          const t = nets[i]!;
          const upLogits = tf.add(tf.matMul(below, t.w), t.hiddenBias) as tf.Tensor2D;
          const h = bernoulli(tf.sigmoid(upLogits), rng);
          const downLogits = tf.add(tf.matMul(h, t.w, false, true), t.visibleBias) as tf.Tensor2D;
          // + log p(h_{i-1} | h_i) - log q(h_i | h_{i-1}); each log-probability is -NLL.
          logw = tf.add(logw, tf.sub(bernoulliNll(upLogits, h), bernoulliNll(downLogits, below)));
          below = h;
        }
        logw = tf.sub(logw, freeEnergy(nets[top]!, below));
        return [logw, tf.sum(below, 0)];
      });
      try {
        const w = logW.dataSync();
        for (let r = 0; r < rows; r++) logWeights[start + Math.floor(r / samples)]! += w[r]! / samples;
        const c = onCounts.dataSync();
        for (let j = 0; j < topVisible; j++) on[j]! += c[j]!;
      } finally {
        logW.dispose();
        onCounts.dispose();
      }
    }
  } finally {
    for (const t of nets) for (const x of Object.values(t)) x.dispose();
  }
  let sum = 0;
  for (const l of logWeights) sum += l;
  const topBaseBias = new Float32Array(topVisible);
  for (let j = 0; j < topVisible; j++) {
    const p = Math.min(Math.max(on[j]! / (count * samples), BASE_RATE_CLIP), 1 - BASE_RATE_CLIP);
    topBaseBias[j] = Math.log(p / (1 - p));
  }
  return { meanLogWeight: sum / count, logWeights, topBaseBias };
}
