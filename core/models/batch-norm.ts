/**
 * Batch normalisation (Ioffe and Szegedy 2015) in training mode: every channel (the last axis) is
 * normalised with the mean and biased variance of the batch it is computed on, then scaled by gamma
 * and shifted by beta. There are no running averages: the GANs use batch statistics at sampling time
 * too (see dcgan.ts), so nothing but gamma and beta is learned or stored.
 */
import { tf } from '../compute/tf.js';

/** Added to the variance before the square root; PyTorch's BatchNorm2d default. */
export const BATCH_NORM_EPS = 1e-5;

/**
 * (x - mean) / sqrt(var + eps) * gamma + beta, with mean and variance over every axis but the last
 * (batch, and height and width for NHWC feature maps). Written as elementwise ops rather than
 * tf.batchNorm, so that the native backend runs it and autodiff differentiates through the batch
 * statistics.
 */
export function batchNorm<T extends tf.Tensor>(x: T, gamma: tf.Tensor1D, beta: tf.Tensor1D): T {
  const axes = Array.from({ length: x.rank - 1 }, (_, i) => i);
  const { mean, variance } = tf.moments(x, axes);
  const scale = tf.mul(gamma, tf.rsqrt(tf.add(variance, BATCH_NORM_EPS)));
  return tf.add(tf.mul(tf.sub(x, mean), scale), beta);
}
