/** The Bernoulli-Bernoulli RBM's conditionals and free energy, shared by the model and its exact likelihood. */
import { tf } from '../compute/tf.js';
import type { Noise } from '../data/sample-noise.js';

/** RBM parameters as tensors: W (visible x hidden), visible bias a, hidden bias b. */
export interface RbmTensors {
  readonly w: tf.Tensor2D;
  readonly visibleBias: tf.Tensor1D;
  readonly hiddenBias: tf.Tensor1D;
}

/**
 * p(h = 1 | v) = sigmoid(v W + b), one row per visible vector: one fused kernel (the native backend
 * adds the bias and applies the sigmoid in the pass that writes the product). Never differentiated:
 * tfjs has no gradient for a fused sigmoid.
 */
export function hiddenProbs(rbm: RbmTensors, v: tf.Tensor2D): tf.Tensor2D {
  return tf.fused.matMul({ a: v, b: rbm.w, bias: rbm.hiddenBias, activation: 'sigmoid' }) as tf.Tensor2D;
}

/** p(v = 1 | h) = sigmoid(h W^T + a), one row per hidden vector, fused like {@link hiddenProbs}. */
export function visibleProbs(rbm: RbmTensors, h: tf.Tensor2D): tf.Tensor2D {
  return tf.fused.matMul({
    a: h,
    b: rbm.w,
    transposeB: true,
    bias: rbm.visibleBias,
    activation: 'sigmoid',
  }) as tf.Tensor2D;
}

/**
 * Free energy F(v) = -v.a - sum_j softplus(b_j + v.W_j), so that p(v) = exp(-F(v)) / Z;
 * one value per row.
 */
export function freeEnergy(rbm: RbmTensors, v: tf.Tensor2D): tf.Tensor1D {
  const visibleTerm = tf.sum(tf.mul(v, rbm.visibleBias), 1);
  const hiddenTerm = tf.sum(tf.softplus(tf.add(tf.matMul(v, rbm.w), rbm.hiddenBias)), 1);
  return tf.neg(tf.add(visibleTerm, hiddenTerm));
}

/** Binary states drawn with P(1) = p, from one draw of uniforms from `noise`, one row per row of p. */
export function bernoulli(p: tf.Tensor2D, noise: Noise): tf.Tensor2D {
  const u = tf.tensor2d(noise.fillUniform(new Float32Array(p.size)), [p.shape[0], p.shape[1]], 'float32');
  return tf.cast(tf.less(u, p), 'float32');
}
