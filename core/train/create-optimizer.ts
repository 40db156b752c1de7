import { ConfigError } from '../errors.js';
import { Adam } from './adam.js';
import type { Optimizer } from './optimizer.js';
import { Sgd } from './sgd.js';

/** Optimizer names the factory knows. */
export const OPTIMIZER_NAMES = ['sgd', 'adam'] as const;
/** One of OPTIMIZER_NAMES. */
export type OptimizerName = (typeof OPTIMIZER_NAMES)[number];

/** Optimizer choice and its settings; fields that do not apply to the chosen one are ignored. */
export interface OptimizerConfig {
  readonly optimizer: OptimizerName;
  /** SGD momentum at the start, in [0, 1); default 0. */
  readonly momentum?: number;
  /** SGD: Nesterov momentum; default false. */
  readonly nesterov?: boolean;
  /** Adam: defaults 0.9, 0.999, 1e-8. */
  readonly beta1?: number;
  readonly beta2?: number;
  readonly eps?: number;
}

/**
 * Builds the optimizer for a flat buffer of `size` parameters. Throws ConfigError naming the field
 * for an unknown optimizer or an out-of-range setting.
 */
export function createOptimizer(config: OptimizerConfig, size: number): Optimizer {
  // Checked at run time too: the config may come from JSON or a job file.
  const name: string = config.optimizer;
  switch (name) {
    case 'sgd':
      return new Sgd(size, { momentum: config.momentum ?? 0, nesterov: config.nesterov ?? false });
    case 'adam':
      return new Adam(size, { beta1: config.beta1, beta2: config.beta2, eps: config.eps });
    default:
      throw new ConfigError('optimizer', `unknown optimizer "${name}"; known: ${OPTIMIZER_NAMES.join(', ')}`);
  }
}
