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

/** A model kind as the config layer sees it: what it is, its hyperparameters, its training defaults. */
export interface ModelDescription {
  readonly kind: string;
  /** One line: what it is and its loss. */
  readonly summary: string;
  readonly hypers: readonly HyperSpec[];
  readonly training: TrainingDefaults;
}

/** A model the CLI can name: its description and how to build it. */
export interface ModelEntry extends ModelDescription {
  create(inputSize: number, hyper: HyperValues): Model;
}
