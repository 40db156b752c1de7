/**
 * The nonlinearities models name in their options, apart from their tensor code (layers.ts), so
 * that the option catalogue can name them without loading TensorFlow.js.
 */

/** Layer nonlinearities; `linear` is only offered for code layers. */
export type Activation = 'linear' | 'sigmoid' | 'relu' | 'tanh';

/** Slope of D's LeakyReLU for negative inputs (DCGAN's 0.2, used for the MLP too). */
export const LEAKY_SLOPE = 0.2;
