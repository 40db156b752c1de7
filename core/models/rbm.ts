/**
 * Bernoulli-Bernoulli restricted Boltzmann machine trained with contrastive divergence (CD-k) or
 * persistent CD, following Hinton's "A practical guide to training RBMs" (2010). Data in [0, 1]
 * are used as visible probabilities, not binarised.
 */
import { tensorValues } from '../compute/tensor-values.js';
import { tf } from '../compute/tf.js';
import type { Rng } from '../data/rng.js';
import type { Noise } from '../data/sample-noise.js';
import { CheckpointError, ConfigError } from '../errors.js';
import { aisLogPartition, baseRateBias } from '../eval/rbm-ais.js';
import { EXACT_HIDDEN_LIMIT, binaryFreeEnergies, exactLogPartition } from '../eval/rbm-likelihood.js';
import type { RbmWeights } from '../eval/rbm-likelihood.js';
import type { HyperValues } from './hyper.js';
import { HyperReader } from './hyper-values.js';
import { matrix } from './layers.js';
import { RBM_HYPERS } from './model-catalogue.js';
import { denseLayerValues, flatLength } from './model.js';
import type { DenseLayerValues, Model, ParamSpec, StepResult } from './model.js';
import { flattenTensors, paramTensors } from './params.js';
import { bernoulli, freeEnergy, hiddenProbs, visibleProbs } from './rbm-energy.js';
import type { RbmTensors } from './rbm-energy.js';

/** Everything that defines an RBM, after hyperparameters have been read. */
export interface RbmConfig {
  readonly inputSize: number;
  readonly hidden: number;
  /** Gibbs steps per update (CD-k / PCD-k). */
  readonly k: number;
  /** Keep fantasy particles across updates (PCD) instead of restarting chains at the data. */
  readonly persistent: boolean;
  /** L2 coefficient on the weights (not the biases). */
  readonly weightDecay: number;
  /** Gibbs steps per chain in `sample`. */
  readonly sampleSteps: number;
  /** Inverse temperatures of the AIS estimate of log Z in `evaluateSet`; 0 skips it. */
  readonly aisBetas: number;
  /** AIS chains. */
  readonly aisRuns: number;
  readonly hyper: Readonly<Record<string, unknown>>;
}

/** Standard deviation of the initial weights (Hinton's guide, section 8). */
const INIT_STD = 0.01;

/**
 * Flat parameters: `w` (visible x hidden), `visible.b`, `hidden.b`.
 *
 * One CD-k update: h0 ~ p(h|v0) from the data v0. CD then runs k Gibbs steps from h0 using
 * visible probabilities for the reconstructions and sampled binary hidden states to drive them
 * (guide, section 3). PCD instead continues its fantasy particles, a true Gibbs chain of binary
 * visible and hidden states, started from binarised data on the first update. The statistics use
 * hidden probabilities. Random numbers are drawn from the step's noise in this order: h0; on the
 * first PCD update the particles; then per Gibbs step the states the chain samples. Each draw has
 * one row per batch row, PCD's chain one per particle: particle i starts from row i, so a share of
 * the batch holding its rows' particles draws for them what the whole batch draws.
 */
export class Rbm implements Model {
  readonly kind = 'rbm';
  readonly inputSize: number;
  readonly codeSize: number;
  readonly paramSpecs: readonly ParamSpec[];
  readonly hyper: Readonly<Record<string, unknown>>;
  /** PCD fantasy particles (binary visible states), rows of inputSize; null until the first PCD step. */
  private particles: Float32Array | null = null;

  constructor(private readonly config: RbmConfig) {
    this.inputSize = config.inputSize;
    this.codeSize = config.hidden;
    this.hyper = config.hyper;
    this.paramSpecs = [
      { name: 'w', shape: [config.inputSize, config.hidden] },
      { name: 'visible.b', shape: [config.inputSize] },
      { name: 'hidden.b', shape: [config.hidden] },
    ];
  }

  /** W ~ N(0, 0.01^2); both biases 0 (the data-dependent visible bias log(p/(1-p)) is left to the trainer). */
  init(rng: Rng): Float32Array {
    const flat = new Float32Array(flatLength(this.paramSpecs));
    rng.fillNormal(flat.subarray(0, this.inputSize * this.config.hidden), 0, INIT_STD);
    return flat;
  }

  private tensors(params: Float32Array): RbmTensors {
    const [w, visibleBias, hiddenBias] = paramTensors(this.paramSpecs, params);
    return {
      w: w as tf.Tensor2D,
      visibleBias: visibleBias as tf.Tensor1D,
      hiddenBias: hiddenBias as tf.Tensor1D,
    };
  }

  /** The flat parameters viewed as the arrays the exact likelihood takes. */
  weights(params: Float32Array): RbmWeights {
    const n = this.inputSize;
    const m = this.config.hidden;
    return {
      visible: n,
      hidden: m,
      w: params.subarray(0, n * m),
      visibleBias: params.subarray(n * m, n * m + n),
      hiddenBias: params.subarray(n * m + n, n * m + n + m),
    };
  }

  /**
   * loss: squared error per image between the data and its first reconstruction p(v|h0).
   * grads: -(<v h>data - <v h>model) + weightDecay * W, and the bias analogues without decay,
   * each statistic averaged over its own rows (data batch, or fantasy particles).
   */
  step(
    params: Float32Array,
    batch: Float32Array,
    batchSize: number,
    noise: Noise,
    out?: Float32Array,
  ): StepResult {
    const { k, persistent, weightDecay } = this.config;
    let loss = 0;
    const stats = tf.tidy(() => {
      const t = this.tensors(params);
      const v0 = matrix(batch, batchSize, this.inputSize);
      const ph0 = hiddenProbs(t, v0);
      const h0 = bernoulli(ph0, noise);
      const pv1 = visibleProbs(t, h0);
      loss = tf.sum(tf.square(tf.sub(v0, pv1))).dataSync()[0]! / batchSize;

      let vNeg: tf.Tensor2D;
      let hNeg: tf.Tensor2D;
      if (persistent) {
        if (!this.particles) this.particles = Float32Array.from(bernoulli(v0, noise).dataSync());
        let vs = matrix(this.particles, this.particles.length / this.inputSize, this.inputSize);
        let ph = hiddenProbs(t, vs);
        for (let s = 0; s < k; s++) {
          vs = bernoulli(visibleProbs(t, bernoulli(ph, noise)), noise);
          ph = hiddenProbs(t, vs);
        }
        this.particles = Float32Array.from(vs.dataSync());
        vNeg = vs;
        hNeg = ph;
      } else {
        let pv = pv1;
        let ph = hiddenProbs(t, pv);
        for (let s = 1; s < k; s++) {
          pv = visibleProbs(t, bernoulli(ph, noise));
          ph = hiddenProbs(t, pv);
        }
        vNeg = pv;
        hNeg = ph;
      }

      // -(v0'ph0 / B - vNeg'hNeg / N) as one product over the stacked rows: the scaling touches
      // the batch-sized factors instead of three passes over the 784 x hidden result.
      const cd = tf.matMul(
        tf.concat([v0, vNeg], 0),
        tf.concat([tf.mul(ph0, -1 / batchSize), tf.mul(hNeg, 1 / vNeg.shape[0])], 0),
        true,
        false,
      );
      const gW = tf.add(cd, tf.mul(weightDecay, t.w));
      const gA = tf.neg(tf.sub(tf.mean(v0, 0), tf.mean(vNeg, 0)));
      const gB = tf.neg(tf.sub(tf.mean(ph0, 0), tf.mean(hNeg, 0)));
      return [gW, gA, gB];
    });
    try {
      return { loss, grads: flattenTensors(this.paramSpecs, stats, out) };
    } finally {
      for (const t of stats) t.dispose();
    }
  }

  /** p(h|v) as one sigmoid layer. */
  encoderLayers(params: Float32Array): DenseLayerValues[] {
    return [denseLayerValues(this.paramSpecs, params, 'w', 'hidden.b', 'sigmoid')];
  }

  encode(params: Float32Array, batch: Float32Array, batchSize: number): Float32Array {
    return tensorValues(() => hiddenProbs(this.tensors(params), matrix(batch, batchSize, this.inputSize)));
  }

  /** p(v = 1 | h) for hidden vectors (binary states or probabilities). */
  decode(params: Float32Array, codes: Float32Array, count: number): Float32Array {
    return tensorValues(() => visibleProbs(this.tensors(params), matrix(codes, count, this.config.hidden)));
  }

  /** Mean-field reconstruction p(v | p(h | v)). */
  reconstruct(params: Float32Array, batch: Float32Array, batchSize: number): Float32Array {
    return tensorValues(() => {
      const t = this.tensors(params);
      return visibleProbs(t, hiddenProbs(t, matrix(batch, batchSize, this.inputSize)));
    });
  }

  /**
   * `count` Gibbs chains started from uniformly random binary images, run for `sampleSteps`
   * full steps v -> h -> v; returns p(v | h) of the last step (smoother to look at than states).
   */
  sample(params: Float32Array, count: number, rng: Rng): Float32Array {
    return tensorValues(() => {
      const t = this.tensors(params);
      let v = bernoulli(tf.fill([count, this.inputSize], 0.5) as tf.Tensor2D, rng);
      let pv = v;
      for (let s = 0; s < this.config.sampleSteps; s++) {
        // One tidy per step so a long chain holds only its current state.
        const [nextV, nextPv] = tf.tidy(() => {
          const p = visibleProbs(t, bernoulli(hiddenProbs(t, v), rng));
          return [bernoulli(p, rng), p];
        });
        if (pv !== v) pv.dispose();
        v.dispose();
        v = nextV as tf.Tensor2D;
        pv = nextPv as tf.Tensor2D;
      }
      return pv;
    });
  }

  /**
   * Sum over the batch of the pseudo-log-likelihood of the binarised images (scikit-learn's
   * estimator: inputSize * log sigmoid(F(v~) - F(v)) with v~ = v with one random bit flipped).
   */
  evaluate(params: Float32Array, batch: Float32Array, batchSize: number, rng: Rng): Record<string, number> {
    const n = this.inputSize;
    const v = new Float32Array(batchSize * n);
    for (let i = 0; i < v.length; i++) v[i] = batch[i]! > 0.5 ? 1 : 0;
    const flipped = Float32Array.from(v);
    for (let r = 0; r < batchSize; r++) {
      const i = r * n + rng.int(n);
      flipped[i] = 1 - flipped[i]!;
    }
    return tf.tidy(() => {
      const t = this.tensors(params);
      const gap = tf.sub(
        freeEnergy(t, matrix(flipped, batchSize, n)),
        freeEnergy(t, matrix(v, batchSize, n)),
      );
      // log sigmoid(x) = -softplus(-x)
      const pll = tf.mul(-n, tf.sum(tf.softplus(tf.neg(gap))));
      return { pseudo_log_likelihood: pll.dataSync()[0]! };
    });
  }

  /**
   * Mean log p(v) in nats of the binarised set, -mean F(v) - log Z, with log Z
   * - exact, when hidden <= EXACT_HIDDEN_LIMIT: `log_likelihood_nats`, `log_partition`;
   * - by annealed importance sampling, unless `ais-betas` is 0: `ais_log_likelihood_nats`,
   *   `ais_log_partition`, and `ais_log_z_sd` (the delta-method standard deviation of the log Z
   *   estimate; absent with one run). The AIS start model takes the base rate of `data` itself,
   *   the test set, where Salakhutdinov & Murray take the training set's. That is sound: with
   *   every base pixel probability inside (0, 1), the mean importance weight estimates Z without
   *   bias whatever the base model; the base only changes the spread of the weights (and with it
   *   the sd and the small downward bias of log mean w). The chains draw from `rng`.
   */
  evaluateSet(
    params: Float32Array,
    data: Float32Array,
    count: number,
    rng: Rng,
  ): Record<string, number> | null {
    const { hidden, aisBetas, aisRuns } = this.config;
    if (count === 0 || (hidden > EXACT_HIDDEN_LIMIT && aisBetas === 0)) return null;
    const rbm = this.weights(params);
    let sum = 0;
    for (const f of binaryFreeEnergies(rbm, data, count)) sum += f;
    const meanNegF = -sum / count;
    const out: Record<string, number> = {};
    if (hidden <= EXACT_HIDDEN_LIMIT) {
      const logZ = exactLogPartition(rbm);
      out['log_likelihood_nats'] = meanNegF - logZ;
      out['log_partition'] = logZ;
    }
    if (aisBetas > 0) {
      const ais = aisLogPartition(rbm, {
        baseVisibleBias: baseRateBias(data, count, this.inputSize),
        betas: aisBetas,
        runs: aisRuns,
        rng,
      });
      out['ais_log_likelihood_nats'] = meanNegF - ais.logZ;
      out['ais_log_partition'] = ais.logZ;
      if (Number.isFinite(ais.sd)) out['ais_log_z_sd'] = ais.sd;
    }
    return out;
  }

  clearState(): void {
    this.particles = null;
  }

  /** A copy of the PCD fantasy particles, or null (CD, or before the first step). */
  saveState(): Float32Array | null {
    return this.particles ? Float32Array.from(this.particles) : null;
  }

  loadState(state: Float32Array): void {
    if (!this.config.persistent) {
      throw new CheckpointError(
        'CHECKPOINT_INVALID',
        'rbm: checkpoint holds fantasy particles but --persistent is off',
      );
    }
    if (state.length === 0 || state.length % this.inputSize !== 0) {
      throw new CheckpointError(
        'CHECKPOINT_INVALID',
        `rbm: fantasy particles of ${state.length} values are not whole images of ${this.inputSize}`,
      );
    }
    this.particles = Float32Array.from(state);
  }
}

/** Builds an RBM from (validated) hyperparameters; missing ones take their defaults. */
export function createRbm(inputSize: number, values: HyperValues): Rbm {
  const h = new HyperReader(RBM_HYPERS, values);
  const aisBetas = h.int('ais-betas');
  if (aisBetas === 1)
    throw new ConfigError('ais-betas', 'AIS needs 0 (skip) or at least 2 inverse temperatures');
  return new Rbm({
    inputSize,
    hidden: h.int('hidden'),
    k: h.int('k'),
    persistent: h.bool('persistent'),
    weightDecay: h.number('weight-decay'),
    sampleSteps: h.int('sample-steps'),
    aisBetas,
    aisRuns: h.int('ais-runs'),
    hyper: h.resolved(),
  });
}
