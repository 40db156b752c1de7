/** Helpers shared by the evaluation tests. */
import { Rng } from '../data/rng.js';
import type { RbmWeights } from './rbm-likelihood.js';

/** An RBM whose weights and biases are N(0, scale^2), drawn from `seed`. */
export function randomRbm(visible: number, hidden: number, seed: number, scale = 1): RbmWeights {
  const rng = new Rng(seed);
  return {
    visible,
    hidden,
    w: rng.fillNormal(new Float32Array(visible * hidden), 0, scale),
    visibleBias: rng.fillNormal(new Float32Array(visible), 0, scale),
    hiddenBias: rng.fillNormal(new Float32Array(hidden), 0, scale),
  };
}
