import type { Model, TrainingDefaults } from './model.js';

export type { TrainingDefaults } from './model.js';

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
