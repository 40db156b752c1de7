/**
 * Exact log-likelihood of a small Bernoulli-Bernoulli RBM. The partition function is summed over
 * every hidden configuration, with the visible units marginalised in closed form:
 *   log Z = log sum_h exp(b.h + sum_i softplus(a_i + W_i.h)).
 * Configurations are scored in chunks with tf, and combined with a log-sum-exp in float64.
 */
import { tensorValues } from '../compute/tensor-values.js';
import { tf } from '../compute/tf.js';
import { HarmoniumError } from '../errors.js';
import { freeEnergy } from '../models/rbm-energy.js';
import type { RbmTensors } from '../models/rbm-energy.js';

/** Most hidden units for which the exact sum (2^hidden terms) is attempted. */
export const EXACT_HIDDEN_LIMIT = 20;

/** Hidden configurations scored per tf call. */
const CHUNK = 4096;

/** RBM parameters as flat arrays: W is visible x hidden, row-major. */
export interface RbmWeights {
  readonly visible: number;
  readonly hidden: number;
  readonly w: Float32Array;
  readonly visibleBias: Float32Array;
  readonly hiddenBias: Float32Array;
}

function tensors(rbm: RbmWeights): RbmTensors {
  return {
    w: tf.tensor2d(rbm.w, [rbm.visible, rbm.hidden], 'float32'),
    visibleBias: tf.tensor1d(rbm.visibleBias, 'float32'),
    hiddenBias: tf.tensor1d(rbm.hiddenBias, 'float32'),
  };
}

/** log Z, exactly, by enumerating all 2^hidden hidden states (hidden <= EXACT_HIDDEN_LIMIT). */
export function exactLogPartition(rbm: RbmWeights): number {
  if (rbm.hidden > EXACT_HIDDEN_LIMIT) {
    throw new HarmoniumError(
      'MODEL_INVALID',
      `exact log Z enumerates 2^hidden states; ${rbm.hidden} hidden units is over the limit of ${EXACT_HIDDEN_LIMIT}`,
    );
  }
  const total = 2 ** rbm.hidden;
  let max = -Infinity;
  let sum = 0; // sum of exp(score - max), rescaled whenever max grows
  tf.tidy(() => {
    const t = tensors(rbm);
    for (let start = 0; start < total; start += CHUNK) {
      const rows = Math.min(CHUNK, total - start);
      const h = new Float32Array(rows * rbm.hidden);
      for (let r = 0; r < rows; r++) {
        const code = start + r;
        for (let j = 0; j < rbm.hidden; j++) h[r * rbm.hidden + j] = (code >>> j) & 1;
      }
      const scores = tf.tidy(() => {
        const ht = tf.tensor2d(h, [rows, rbm.hidden], 'float32');
        const visible = tf.sum(tf.softplus(tf.add(tf.matMul(ht, t.w, false, true), t.visibleBias)), 1);
        return tf.add(tf.sum(tf.mul(ht, t.hiddenBias), 1), visible).dataSync() as Float32Array;
      });
      for (const s of scores) {
        if (s > max) {
          sum = sum * Math.exp(max - s) + 1;
          max = s;
        } else {
          sum += Math.exp(s - max);
        }
      }
    }
  });
  return max + Math.log(sum);
}

/** Free energies of `count` rows of `data`, binarised at 0.5 first. */
export function binaryFreeEnergies(rbm: RbmWeights, data: Float32Array, count: number): Float32Array {
  const v = new Float32Array(count * rbm.visible);
  for (let i = 0; i < v.length; i++) v[i] = data[i]! > 0.5 ? 1 : 0;
  return tensorValues(() => freeEnergy(tensors(rbm), tf.tensor2d(v, [count, rbm.visible], 'float32')));
}

/**
 * Mean over `count` images of log p(v) in nats, with v binarised at 0.5. `logZ` may be passed
 * when already known, to score several sets against one partition function.
 */
export function exactLogLikelihood(
  rbm: RbmWeights,
  data: Float32Array,
  count: number,
  logZ: number = exactLogPartition(rbm),
): number {
  const f = binaryFreeEnergies(rbm, data, count);
  let sum = 0;
  for (const x of f) sum += x;
  return -sum / count - logZ;
}
