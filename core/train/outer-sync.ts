/**
 * Local SGD with DiLoCo's outer step (Douillard et al. 2023, "DiLoCo: Distributed Low-Communication
 * Training of Language Models"): every rank takes H steps of its own optimizer (the inner one) on
 * its share of each global batch without communicating, then the ranks all-reduce the change of
 * the parameters since the last sync (the outer gradient, Δ = anchor - mean of the ranks'
 * parameters) and every rank takes the same Nesterov-momentum step from the anchor:
 *
 *   v <- μ v + Δ;   anchor <- anchor - η (Δ + μ v);   params <- anchor
 *
 * (PyTorch's SGD with nesterov=True, which DiLoCo uses with η = 0.7, μ = 0.9). With H = 1, η = 1
 * and μ = 0 it is synchronous training with an averaged inner update. Only the synced parameters
 * count as committed: a round that does not reach its sync is rolled back to the anchor.
 */
import { stateArray, type OptimizerState } from './optimizer.js';

/** The optimizer-state key of the outer momentum (checkpoints and state transfers carry it). */
export const OUTER_VELOCITY = 'outer_velocity';

/** The outer loop's settings. */
export interface OuterSettings {
  /** Inner steps per round (H, at least 2). */
  readonly every: number;
  /** Outer learning rate (η). */
  readonly lr: number;
  /** Outer Nesterov momentum (μ). */
  readonly momentum: number;
}

export class OuterSync {
  readonly settings: OuterSettings;
  /** The parameters every rank agreed on at the last sync. */
  readonly anchor: Float32Array;
  private velocity: Float32Array;

  constructor(params: Float32Array, settings: OuterSettings) {
    this.settings = settings;
    this.anchor = Float32Array.from(params);
    this.velocity = new Float32Array(params.length);
  }

  /**
   * Turns `params` (this rank's, after its inner steps) into this rank's outer gradient in place:
   * anchor - params. Averaged over the ranks, it is the outer step's Δ.
   */
  outerGradient(params: Float32Array, into: Float32Array): void {
    const a = this.anchor;
    for (let i = 0; i < a.length; i++) into[i] = a[i]! - params[i]!;
  }

  /** Takes the outer step with the averaged `delta`; `params` and the anchor become its result. */
  step(params: Float32Array, delta: Float32Array): void {
    const { lr, momentum } = this.settings;
    const a = this.anchor;
    const v = this.velocity;
    for (let i = 0; i < a.length; i++) {
      const d = delta[i]!;
      const vi = momentum * v[i]! + d;
      v[i] = vi;
      a[i] = a[i]! - lr * (d + momentum * vi);
    }
    params.set(a);
  }

  /** Makes `params` the anchor (a state was adopted or loaded: it is the synced one). */
  reanchor(params: Float32Array): void {
    this.anchor.set(params);
  }

  /** Forgets the momentum (a phase's fresh optimizer starts a fresh outer loop too). */
  reset(): void {
    this.velocity.fill(0);
  }

  /** The outer momentum under its optimizer-state key (a copy). */
  state(): OptimizerState {
    return { [OUTER_VELOCITY]: this.velocity.slice() };
  }

  /** Takes the outer momentum from `state` when it has one (a synchronous run's checkpoint has none). */
  loadState(state: Readonly<OptimizerState>): void {
    if (state[OUTER_VELOCITY] === undefined) {
      this.velocity.fill(0);
      return;
    }
    this.velocity = stateArray('outer', state, OUTER_VELOCITY, this.anchor.length).slice();
  }
}
