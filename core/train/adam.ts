import { optionalNativeAddon, type NativeAddon } from '../compute/native-addon.js';
import { CheckpointError, ConfigError } from '../errors.js';
import { checkStepArgs, stateArray, stateNumber, type Optimizer, type OptimizerState } from './optimizer.js';

/** Adam options; the defaults are Kingma & Ba's. */
export interface AdamOptions {
  /** Decay of the first moment, in [0, 1); default 0.9. */
  readonly beta1?: number;
  /** Decay of the second moment, in [0, 1); default 0.999. */
  readonly beta2?: number;
  /** Added to sqrt(v-hat), > 0; default 1e-8. */
  readonly eps?: number;
  /** Update in the native addon's vectorised pass when it is built (default), or in JavaScript. */
  readonly native?: boolean;
}

function checkRange(field: string, v: number, lo: number, hi: number): number {
  if (!(v >= lo && v < hi)) throw new ConfigError(field, `must be in [${lo}, ${hi}), got ${v}`);
  return v;
}

/**
 * Adam (Kingma & Ba 2015, Algorithm 1) with bias correction:
 * m = b1*m + (1-b1)*g; v = b2*v + (1-b2)*g^2; p -= lr * m-hat / (sqrt(v-hat) + eps).
 * The moments are float32 like the parameters; the step counter `t` is part of the state.
 */
export class Adam implements Optimizer {
  readonly name = 'adam';
  readonly size: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  private t = 0;
  private m: Float32Array;
  private v: Float32Array;
  private readonly addon: NativeAddon | null;

  constructor(size: number, options: AdamOptions = {}) {
    this.size = size;
    this.beta1 = checkRange('beta1', options.beta1 ?? 0.9, 0, 1);
    this.beta2 = checkRange('beta2', options.beta2 ?? 0.999, 0, 1);
    this.eps = options.eps ?? 1e-8;
    if (!(this.eps > 0) || !Number.isFinite(this.eps)) {
      throw new ConfigError('eps', `must be a finite number > 0, got ${this.eps}`);
    }
    this.m = new Float32Array(size);
    this.v = new Float32Array(size);
    this.addon = (options.native ?? true) ? optionalNativeAddon() : null;
  }

  /** Number of updates taken so far. */
  get steps(): number {
    return this.t;
  }

  step(params: Float32Array, grads: Float32Array, lr: number): void {
    checkStepArgs(this, params, grads, lr);
    this.t += 1;
    const b1 = this.beta1;
    const b2 = this.beta2;
    const c1 = 1 - b1;
    const c2 = 1 - b2;
    const eps = this.eps;
    // Bias corrections folded into two scalars so the loop does no pow and no extra division.
    const stepSize = lr / (1 - b1 ** this.t);
    const invSqrtBc2 = 1 / Math.sqrt(1 - b2 ** this.t);
    const m = this.m;
    const v = this.v;
    if (this.addon) {
      this.addon.adam(params, grads, m, v, b1, b2, stepSize, invSqrtBc2, eps);
      return;
    }
    const n = this.size;
    for (let i = 0; i < n; i++) {
      const g = grads[i]!;
      const mi = b1 * m[i]! + c1 * g;
      const vi = b2 * v[i]! + c2 * g * g;
      m[i] = mi;
      v[i] = vi;
      params[i]! -= (stepSize * mi) / (Math.sqrt(vi) * invSqrtBc2 + eps);
    }
  }

  /** Moments `m`, `v` and the step counter `t`; beta1, beta2 and eps come from the config. */
  state(): OptimizerState {
    return { m: this.m.slice(), v: this.v.slice(), t: this.t };
  }

  loadState(state: Readonly<OptimizerState>): void {
    const m = stateArray(this.name, state, 'm', this.size);
    const v = stateArray(this.name, state, 'v', this.size);
    const t = stateNumber(this.name, state, 't');
    if (!Number.isInteger(t) || t < 0) {
      throw new CheckpointError(
        'CHECKPOINT_INVALID',
        `adam optimizer state: "t" must be an integer >= 0, got ${t}`,
      );
    }
    this.m = m.slice();
    this.v = v.slice();
    this.t = t;
  }
}
