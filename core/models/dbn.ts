/**
 * Deep belief net (Hinton, Osindero & Teh 2006): a stack of Bernoulli-Bernoulli RBMs trained
 * greedily, one training phase per RBM. In phase i, RBM i learns by CD-k (the `rbm` model's step)
 * on the hidden probabilities that the deterministic up-pass through the RBMs below gives for the
 * batch, as in Hinton's code, while every other RBM stays frozen. As a generative model the top
 * RBM is an undirected associative memory and each RBM below is a directed sigmoid layer from its
 * hidden to its visible units with the same weights; the up-pass with the hidden biases is the
 * approximate inference. There is no up-down fine-tuning, so recognition and generative weights
 * stay tied.
 */
import { tensorValues } from '../compute/tensor-values.js';
import { tf } from '../compute/tf.js';
import type { Rng } from '../data/rng.js';
import type { Noise } from '../data/sample-noise.js';
import { ConfigError, HarmoniumError } from '../errors.js';
import { dbnBoundTerms } from '../eval/dbn-likelihood.js';
import { aisLogPartition } from '../eval/rbm-ais.js';
import { EXACT_HIDDEN_LIMIT, exactLogPartition } from '../eval/rbm-likelihood.js';
import type { RbmWeights } from '../eval/rbm-likelihood.js';
import type { HyperValues } from './hyper.js';
import { HyperReader } from './hyper-values.js';
import { matrix } from './layers.js';
import { DBN_HYPERS } from './model-catalogue.js';
import { flatLength } from './model.js';
import type { DenseLayerValues, Model, ParamSpec, StepResult, TrainingPhase } from './model.js';
import { bernoulli, hiddenProbs, visibleProbs } from './rbm-energy.js';
import type { RbmTensors } from './rbm-energy.js';
import { Rbm } from './rbm.js';

/** Everything that defines a DBN, after hyperparameters have been read. */
export interface DbnConfig {
  readonly inputSize: number;
  /** Units of each hidden layer, bottom first; the last is the top RBM's hidden layer. */
  readonly layers: readonly number[];
  /** Gibbs steps per CD update. */
  readonly k: number;
  /** L2 coefficient on the weights of the RBM in training. */
  readonly weightDecay: number;
  /** Alternating Gibbs steps of the top RBM in `sample`. */
  readonly sampleSteps: number;
  /** Inverse temperatures of the AIS estimate of the top RBM's log Z; 0 skips it. */
  readonly aisBetas: number;
  readonly aisRuns: number;
  readonly hyper: Readonly<Record<string, unknown>>;
}

/** Standard deviation of the initial weights (Hinton's guide, section 8). */
const INIT_STD = 0.01;

/** Where RBM i's parameters sit in the flat buffer: one block laid out as the `rbm` model's. */
interface RbmBlock {
  readonly offset: number;
  readonly size: number;
  readonly visible: number;
  readonly hidden: number;
}

/**
 * Flat parameters, per RBM i = 1..L from the pixels up: `w{i}` (layer i-1 x layer i),
 * `down.b{i}` (the visible bias of RBM i: the generative bias of layer i-1), `up.b{i}` (its hidden
 * bias: the recognition bias of layer i). Each RBM's three tensors lie in one block in the `rbm`
 * model's order (w, visible.b, hidden.b), so that model's step and sampler run on the block.
 */
export class Dbn implements Model {
  readonly kind = 'dbn';
  readonly inputSize: number;
  readonly codeSize: number;
  readonly paramSpecs: readonly ParamSpec[];
  readonly hyper: Readonly<Record<string, unknown>>;
  readonly phases: readonly TrainingPhase[];
  private readonly blocks: readonly RbmBlock[];
  /** One `rbm` model per layer, run on its block of the flat parameters. */
  private readonly rbms: readonly Rbm[];
  private phase = 0;

  constructor(private readonly config: DbnConfig) {
    const sizes = [config.inputSize, ...config.layers];
    this.inputSize = config.inputSize;
    this.codeSize = sizes[sizes.length - 1]!;
    this.hyper = config.hyper;
    const specs: ParamSpec[] = [];
    const blocks: RbmBlock[] = [];
    const phases: TrainingPhase[] = [];
    let offset = 0;
    for (let i = 1; i < sizes.length; i++) {
      const visible = sizes[i - 1]!;
      const hidden = sizes[i]!;
      specs.push(
        { name: `w${i}`, shape: [visible, hidden] },
        { name: `down.b${i}`, shape: [visible] },
        { name: `up.b${i}`, shape: [hidden] },
      );
      const size = visible * hidden + visible + hidden;
      blocks.push({ offset, size, visible, hidden });
      phases.push({ name: `rbm-${i} ${visible}-${hidden}`, epochs: null, training: null });
      offset += size;
    }
    this.paramSpecs = specs;
    this.blocks = blocks;
    this.phases = phases;
    this.rbms = blocks.map(
      (b) =>
        new Rbm({
          inputSize: b.visible,
          hidden: b.hidden,
          k: config.k,
          persistent: false,
          weightDecay: config.weightDecay,
          sampleSteps: config.sampleSteps,
          aisBetas: 0,
          aisRuns: 1,
          hyper: {},
        }),
    );
  }

  /** Makes `step` train RBM `index + 1` (phase `index`). */
  setPhase(index: number): void {
    if (!Number.isInteger(index) || index < 0 || index >= this.blocks.length) {
      throw new HarmoniumError(
        'MODEL_INVALID',
        `dbn: no training phase ${index}; this net has phases 0 to ${this.blocks.length - 1}`,
      );
    }
    this.phase = index;
  }

  /** Every W ~ N(0, 0.01^2), bottom RBM first; every bias 0 (init sees no data for a base-rate bias). */
  init(rng: Rng): Float32Array {
    const flat = new Float32Array(flatLength(this.paramSpecs));
    for (const { offset, visible, hidden } of this.blocks) {
      rng.fillNormal(flat.subarray(offset, offset + visible * hidden), 0, INIT_STD);
    }
    return flat;
  }

  private block(params: Float32Array, i: number): Float32Array {
    const b = this.blocks[i]!;
    return params.subarray(b.offset, b.offset + b.size);
  }

  /** RBM `i` (0-based) as tensors: visible bias = down.b, hidden bias = up.b. */
  private tensors(params: Float32Array, i: number): RbmTensors {
    const r = this.rbms[i]!.weights(this.block(params, i));
    return {
      w: tf.tensor2d(r.w, [r.visible, r.hidden], 'float32'),
      visibleBias: tf.tensor1d(r.visibleBias, 'float32'),
      hiddenBias: tf.tensor1d(r.hiddenBias, 'float32'),
    };
  }

  /** Each RBM, bottom first, viewed as the arrays the likelihood code takes. */
  weights(params: Float32Array): RbmWeights[] {
    return this.rbms.map((rbm, i) => rbm.weights(this.block(params, i)));
  }

  /** p(h_layers | x) by the deterministic up-pass through the first `layers` RBMs. */
  private upPass(params: Float32Array, x: tf.Tensor2D, layers: number): tf.Tensor2D {
    let h = x;
    for (let i = 0; i < layers; i++) h = hiddenProbs(this.tensors(params, i), h);
    return h;
  }

  /**
   * The current phase's RBM: loss and update as the `rbm` model's CD-k step on the up-pass
   * probabilities of the batch (loss: squared reconstruction error of that input per image);
   * every other parameter's update is zero. extras.layer: the RBM in training, from 1.
   */
  step(
    params: Float32Array,
    batch: Float32Array,
    batchSize: number,
    noise: Noise,
    out: Float32Array = new Float32Array(flatLength(this.paramSpecs)),
  ): StepResult {
    if (out.length !== params.length) {
      throw new RangeError(`gradient buffer holds ${out.length} values, the parameters ${params.length}`);
    }
    const p = this.phase;
    const { offset, size, visible } = this.blocks[p]!;
    const input =
      p === 0 ? batch : tensorValues(() => this.upPass(params, matrix(batch, batchSize, this.inputSize), p));
    const r = this.rbms[p]!.step(
      this.block(params, p),
      input.subarray(0, batchSize * visible),
      batchSize,
      noise,
      out.subarray(offset, offset + size),
    );
    out.fill(0, 0, offset);
    out.fill(0, offset + size);
    return { loss: r.loss, grads: out, extras: { layer: p + 1 } };
  }

  /** Top-layer probabilities of the up-pass. */
  encode(params: Float32Array, batch: Float32Array, batchSize: number): Float32Array {
    return tensorValues(() =>
      this.upPass(params, matrix(batch, batchSize, this.inputSize), this.blocks.length),
    );
  }

  /** Deterministic down-pass from top-layer codes: sigmoid(h W^T + down.b), layer by layer. */
  decode(params: Float32Array, codes: Float32Array, count: number): Float32Array {
    return tensorValues(() => this.downPass(params, matrix(codes, count, this.codeSize)));
  }

  private downPass(params: Float32Array, top: tf.Tensor2D): tf.Tensor2D {
    let x = top;
    for (let i = this.blocks.length - 1; i >= 0; i--) x = visibleProbs(this.tensors(params, i), x);
    return x;
  }

  /** decode(encode(x)): up-pass probabilities to the top, mean-field down-pass back. */
  reconstruct(params: Float32Array, batch: Float32Array, batchSize: number): Float32Array {
    return tensorValues(() =>
      this.downPass(
        params,
        this.upPass(params, matrix(batch, batchSize, this.inputSize), this.blocks.length),
      ),
    );
  }

  /** The up-pass as sigmoid dense layers (w{i}, up.b{i}), copied. */
  encoderLayers(params: Float32Array): DenseLayerValues[] {
    return this.weights(params).map((w) => ({
      inputs: w.visible,
      outputs: w.hidden,
      weight: Float32Array.from(w.w),
      bias: Float32Array.from(w.hiddenBias),
      activation: 'sigmoid',
    }));
  }

  /**
   * Ancestral samples (Hinton et al. 2006, section 2): `count` alternating Gibbs chains of the top
   * RBM (the `rbm` model's sampler: `sample-steps` steps from uniformly random binary states of
   * layer L-1), then one top-down pass. The chains start at random rather than at an up-pass of
   * random or training images: the top RBM alone defines the prior over layer L-1, the recognition
   * weights are not part of the generative model, and a random start is as far from any one mode
   * as from another. Layer L-1 takes a binary state from the chain's last p(h_{L-1} | h_L), each
   * directed layer below a binary state drawn from its parent's, and the pixels come out as the
   * probabilities p(v | h_1), smoother to look at than states (for one layer: the RBM's sample).
   */
  sample(params: Float32Array, count: number, rng: Rng): Float32Array {
    const top = this.blocks.length - 1;
    const chain = this.rbms[top]!.sample(this.block(params, top), count, rng);
    if (top === 0) return chain;
    return tensorValues(() => {
      let h = bernoulli(matrix(chain, count, this.blocks[top]!.visible), rng);
      for (let i = top - 1; i > 0; i--) h = bernoulli(visibleProbs(this.tensors(params, i), h), rng);
      return visibleProbs(this.tensors(params, 0), h);
    });
  }

  /**
   * Salakhutdinov & Murray's (2008) variational lower bound on the mean log p(v) of the binarised
   * set in nats (see `dbnBoundTerms`: one sample of the up-pass posterior per image), with the top
   * RBM's log Z
   * - exact, when the top layer has at most EXACT_HIDDEN_LIMIT units: `log_likelihood_bound_nats`,
   *   `log_partition`;
   * - by AIS from the base rate of the sampled layer L-1 states, unless `ais-betas` is 0:
   *   `ais_log_likelihood_nats` (an estimate of the lower bound, not of log p(v): the gap is the
   *   mean KL from the up-pass posterior to the true one), `ais_log_partition`, `ais_log_z_sd`
   *   (absent with one run). AIS's log Z is itself biased low, which biases the bound high by as
   *   much; `ais_log_z_sd` says how far the runs disagree.
   * The posterior samples draw from `rng` first, then the AIS chains.
   */
  evaluateSet(
    params: Float32Array,
    data: Float32Array,
    count: number,
    rng: Rng,
  ): Record<string, number> | null {
    const { aisBetas, aisRuns } = this.config;
    const exact = this.codeSize <= EXACT_HIDDEN_LIMIT;
    if (count === 0 || (!exact && aisBetas === 0)) return null;
    const rbms = this.weights(params);
    const top = rbms[rbms.length - 1]!;
    const terms = dbnBoundTerms(rbms, data, count, rng);
    const out: Record<string, number> = {};
    if (exact) {
      const logZ = exactLogPartition(top);
      out['log_likelihood_bound_nats'] = terms.meanLogWeight - logZ;
      out['log_partition'] = logZ;
    }
    if (aisBetas > 0) {
      const ais = aisLogPartition(top, {
        baseVisibleBias: terms.topBaseBias,
        betas: aisBetas,
        runs: aisRuns,
        rng,
      });
      out['ais_log_likelihood_nats'] = terms.meanLogWeight - ais.logZ;
      out['ais_log_partition'] = ais.logZ;
      if (Number.isFinite(ais.sd)) out['ais_log_z_sd'] = ais.sd;
    }
    return out;
  }
}

/** Builds a DBN from (validated) hyperparameters; missing ones take their defaults. */
export function createDbn(inputSize: number, values: HyperValues): Dbn {
  const h = new HyperReader(DBN_HYPERS, values);
  const aisBetas = h.int('ais-betas');
  if (aisBetas === 1)
    throw new ConfigError('ais-betas', 'AIS needs 0 (skip) or at least 2 inverse temperatures');
  return new Dbn({
    inputSize,
    layers: h.intList('layers'),
    k: h.int('k'),
    weightDecay: h.number('weight-decay'),
    sampleSteps: h.int('sample-steps'),
    aisBetas,
    aisRuns: h.int('ais-runs'),
    hyper: h.resolved(),
  });
}
