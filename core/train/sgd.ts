import { optionalNativeAddon, type NativeAddon } from '../compute/native-addon.js';
import { ConfigError } from '../errors.js';
import { checkStepArgs, stateArray, stateNumber, type Optimizer, type OptimizerState } from './optimizer.js';

/** SGD options. */
export interface SgdOptions {
  /** Momentum in [0, 1); 0 is plain SGD. Can be changed between steps through `momentum`. */
  readonly momentum?: number;
  /** Nesterov momentum (Sutskever et al. 2013, in the form that keeps params at the look-ahead point). */
  readonly nesterov?: boolean;
  /** Update in the native addon's vectorised pass when it is built (default), or in JavaScript. */
  readonly native?: boolean;
}

function checkMomentum(m: number): number {
  if (!(m >= 0 && m < 1)) throw new ConfigError('momentum', `must be in [0, 1), got ${m}`);
  return m;
}

/**
 * SGD with classic momentum: v = m*v - lr*g; p += v. With Nesterov: v = m*v - lr*g;
 * p += m*v - lr*g, which equals the look-ahead gradient form when params are stored shifted.
 * Momentum is a setter so the trainer can switch it (Hinton's RBM guide: 0.5, then 0.9).
 */
export class Sgd implements Optimizer {
  readonly name = 'sgd';
  readonly size: number;
  readonly nesterov: boolean;
  private m: number;
  private velocity: Float32Array;
  private readonly addon: NativeAddon | null;

  constructor(size: number, options: SgdOptions = {}) {
    this.size = size;
    this.m = checkMomentum(options.momentum ?? 0);
    this.nesterov = options.nesterov ?? false;
    this.velocity = new Float32Array(size);
    // The JavaScript loop below is the fallback: the same update, in float64.
    this.addon = (options.native ?? true) ? optionalNativeAddon() : null;
  }

  /** Current momentum coefficient. */
  get momentum(): number {
    return this.m;
  }

  /** Takes effect from the next step; the velocity is kept. */
  set momentum(m: number) {
    this.m = checkMomentum(m);
  }

  step(params: Float32Array, grads: Float32Array, lr: number): void {
    checkStepArgs(this, params, grads, lr);
    const m = this.m;
    const v = this.velocity;
    if (this.addon) {
      this.addon.sgd(params, grads, v, lr, m, this.nesterov);
      return;
    }
    const n = this.size;
    if (this.nesterov) {
      for (let i = 0; i < n; i++) {
        const step = -lr * grads[i]!;
        const vi = m * v[i]! + step;
        v[i] = vi;
        params[i]! += m * vi + step;
      }
    } else {
      for (let i = 0; i < n; i++) {
        const vi = m * v[i]! - lr * grads[i]!;
        v[i] = vi;
        params[i]! += vi;
      }
    }
  }

  /** `velocity` and the current `momentum` (it is training state: a schedule changes it). */
  state(): OptimizerState {
    return { velocity: this.velocity.slice(), momentum: this.m };
  }

  loadState(state: Readonly<OptimizerState>): void {
    const velocity = stateArray(this.name, state, 'velocity', this.size);
    this.m = checkMomentum(stateNumber(this.name, state, 'momentum'));
    this.velocity = velocity.slice();
  }
}
