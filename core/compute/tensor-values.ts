import { tf } from './tf.js';

/**
 * Runs `fn` in a tidy scope and returns the values of the tensor it makes as a fresh Float32Array,
 * disposing every tensor. Never return a typed array from `tf.tidy` itself: tidy walks its result
 * for tensors with `for...in`, which visits each element of a typed array (measured: a 784 x 500
 * RBM step spent 300 of its 350 ms there).
 */
export function tensorValues(fn: () => tf.Tensor): Float32Array {
  const t = tf.tidy(fn);
  try {
    return Float32Array.from(t.dataSync() as Float32Array);
  } finally {
    t.dispose();
  }
}
