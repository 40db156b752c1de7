import type { Model } from './model.js';

/** One model hyperparameter as the CLI, job files and `harmonium models` see it. */
export interface HyperSpec {
  /** kebab-case; the flag is `--<name>`, the job-file field `<name>`. */
  readonly name: string;
  readonly type: 'int' | 'float' | 'bool' | 'enum' | 'int-list';
  readonly default: number | boolean | string | readonly number[];
  /** Allowed values for `enum`. */
  readonly values?: readonly string[];
  /** Inclusive bounds for numbers (and for each element of an int-list). */
  readonly min?: number;
  readonly max?: number;
  /** One line for `harmonium models`. */
  readonly doc: string;
}

/** Optimiser defaults a model is trained with unless the user overrides them. */
export interface TrainingDefaults {
  readonly optimizer: 'sgd' | 'adam';
  readonly lr: number;
  /** SGD momentum at the start (Hinton's guide for RBMs: 0.5, then 0.9). */
  readonly momentum: number;
  /** Momentum from `momentumSwitchEpoch` on; equal to `momentum` for a constant one. */
  readonly finalMomentum: number;
  readonly momentumSwitchEpoch: number;
}

/** Validated hyperparameter values, keyed by HyperSpec.name. */
export type HyperValues = Readonly<Record<string, number | boolean | string | readonly number[]>>;

/** A model the CLI can name. */
export interface ModelEntry {
  readonly kind: string;
  /** One line: what it is and its loss. */
  readonly summary: string;
  readonly hypers: readonly HyperSpec[];
  readonly training: TrainingDefaults;
  create(inputSize: number, hyper: HyperValues): Model;
}
