/**
 * The optimizer contract. An optimizer updates ONE flat parameter buffer in place from ONE flat
 * gradient buffer (the all-reduced one), so its inner loop is a single pass over typed arrays.
 */
import { CheckpointError } from '../errors.js';

/**
 * What an optimizer needs to continue exactly where it stopped: per-parameter arrays (momentum,
 * moments) and scalars (step counter, current momentum). Checkpoints store the arrays in
 * `optimizer.bin` and the scalars in `checkpoint.json`.
 */
export type OptimizerState = Record<string, Float32Array | number>;

/** Updates a flat parameter buffer from a flat gradient buffer. */
export interface Optimizer {
  /** "sgd" or "adam"; recorded in checkpoints. */
  readonly name: string;
  /** Number of parameters (length of the buffers `step` takes). */
  readonly size: number;
  /**
   * One update, in place: `params` moves against `grads` (a gradient of the loss, or any descent
   * direction laid out the same way) with learning rate `lr`.
   */
  step(params: Float32Array, grads: Float32Array, lr: number): void;
  /** A snapshot (copies) of the state; `loadState(state())` on a fresh optimizer continues bit-exactly. */
  state(): OptimizerState;
  /** Restores a state from `state()`; throws CheckpointError naming the key that is missing or wrong. */
  loadState(state: Readonly<OptimizerState>): void;
}

/** Rejects buffers of the wrong length and a learning rate that is not a finite number >= 0. */
export function checkStepArgs(opt: Optimizer, params: Float32Array, grads: Float32Array, lr: number): void {
  if (params.length !== opt.size || grads.length !== opt.size) {
    throw new RangeError(
      `${opt.name}: expected ${opt.size} params and grads, got ${params.length} and ${grads.length}`,
    );
  }
  if (!(lr >= 0) || !Number.isFinite(lr))
    throw new RangeError(`${opt.name}: learning rate ${lr} is not finite >= 0`);
}

/** `state[key]` as a number, or a CheckpointError naming the optimizer and key. */
export function stateNumber(optName: string, state: Readonly<OptimizerState>, key: string): number {
  const v = state[key];
  if (typeof v !== 'number' || !Number.isFinite(v)) {
    throw new CheckpointError(
      'CHECKPOINT_INVALID',
      `${optName} optimizer state: "${key}" must be a finite number`,
    );
  }
  return v;
}

/** `state[key]` as a Float32Array of `length` values, or a CheckpointError naming the optimizer and key. */
export function stateArray(
  optName: string,
  state: Readonly<OptimizerState>,
  key: string,
  length: number,
): Float32Array {
  const v = state[key];
  if (!(v instanceof Float32Array)) {
    throw new CheckpointError(
      'CHECKPOINT_INVALID',
      `${optName} optimizer state: "${key}" must be a Float32Array`,
    );
  }
  if (v.length !== length) {
    throw new CheckpointError(
      'CHECKPOINT_INVALID',
      `${optName} optimizer state: "${key}" has ${v.length} values, the model has ${length} parameters`,
    );
  }
  return v;
}
