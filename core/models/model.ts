import type { Rng } from '../data/rng.js';
import type { Noise } from '../data/sample-noise.js';

/** One named parameter tensor; its values sit at [offset, offset + size) of the flat buffer. */
export interface ParamSpec {
  readonly name: string;
  readonly shape: readonly number[];
}

/** Optimiser settings: a model's defaults, or those a training phase fixes for itself. */
export interface TrainingDefaults {
  readonly optimizer: 'sgd' | 'adam';
  readonly lr: number;
  /** SGD momentum at the start (Hinton's guide for RBMs: 0.5, then 0.9). */
  readonly momentum: number;
  /** Momentum from `momentumSwitchEpoch` on (counted from the phase's first epoch); equal to `momentum` for a constant one. */
  readonly finalMomentum: number;
  readonly momentumSwitchEpoch: number;
  /** Adam's first-moment decay; default 0.9 (DCGAN: 0.5). */
  readonly beta1?: number;
}

/**
 * One stage of a model trained in stages: greedy layer-wise pretraining (one phase per layer),
 * then fine-tuning. The loop starts every phase with a fresh optimizer and calls
 * `Model.setPhase` before its first step.
 */
export interface TrainingPhase {
  /** Short name for logs, metrics and summary.json, e.g. "rbm-1 784-1000", "finetune". */
  readonly name: string;
  /** Epochs of this phase; null for the job's `--epochs`. */
  readonly epochs: number | null;
  /**
   * Optimiser settings the phase fixes (e.g. CD-1 at lr 0.1 with momentum 0.5 -> 0.9), with a
   * constant learning rate; null for the job's `--optimizer`, `--lr`, `--momentum` and `--lr-schedule`.
   */
  readonly training: TrainingDefaults | null;
}

/** One dense layer of an encoder as values: `y = act(x W + b)`, W row-major inputs x outputs. */
export interface DenseLayerValues {
  readonly inputs: number;
  readonly outputs: number;
  readonly weight: Float32Array;
  readonly bias: Float32Array;
  readonly activation: 'linear' | 'sigmoid' | 'relu' | 'tanh';
}

/** What one training step on one batch yields. */
export interface StepResult {
  /** The training loss of the batch (for the RBM: the reconstruction error of the CD step). */
  readonly loss: number;
  /**
   * Descent direction for every parameter, laid out like the flat parameter buffer: the gradient
   * of the loss, or for the RBM the negated CD statistics (-(<vh>data - <vh>model)) plus weight
   * decay. This is the buffer the cluster all-reduces (averages) across ranks.
   */
  readonly grads: Float32Array;
  /** Extra per-step figures worth logging (e.g. `kl`, `reconstruction`, `penalty`). */
  readonly extras?: Readonly<Record<string, number>>;
}

/**
 * A training step whose backward pass runs one layer at a time, from the output (`Model.stepLayered`):
 * between layers the caller may start sending the gradients already final, so that the all-reduce
 * runs while the rest of the backward pass is computed.
 */
export interface LayeredStep {
  /** The batch's loss, known once the forward pass ran. */
  readonly loss: number;
  readonly extras?: Readonly<Record<string, number>>;
  /** The descent direction (as `StepResult.grads`), written as the backward pass reaches each layer. */
  readonly grads: Float32Array;
  /** True once every layer has run its backward pass. */
  readonly done: boolean;
  /**
   * Runs the backward pass through the next layer and returns the ranges [lo, hi) of `grads` that
   * are final now; over the whole pass every element is reported exactly once.
   */
  backward(): ReadonlyArray<readonly [number, number]>;
}

/**
 * The small interface every model implements. Parameters live outside the model, in one flat
 * `Float32Array` laid out as `paramSpecs` in order; the model turns them into named tensors for
 * its computation and returns flat gradients, so optimizers and all-reduce never see tensors.
 */
export interface Model {
  /** The command-line name, e.g. "ae", "vae", "rbm". */
  readonly kind: string;
  /** Values per input image (height * width * channels). */
  readonly inputSize: number;
  /** Values per code (the bottleneck / hidden layer / latent); 0 when the model has none. */
  readonly codeSize: number;
  readonly paramSpecs: readonly ParamSpec[];
  /** Hyperparameters as given, for summary.json and checkpoints. */
  readonly hyper: Readonly<Record<string, unknown>>;

  /** Fresh parameters (flat), drawn from `rng`. */
  init(rng: Rng): Float32Array;
  /**
   * Loss and descent direction for a batch of `batchSize` rows of `inputSize` values in [0, 1].
   * With `out` (as long as `params`), the descent direction is written there and returned as
   * `grads`: the training loop passes one buffer for every step, sparing a multi-megabyte
   * allocation per step.
   *
   * Every draw from `noise` is laid out as `batchSize` rows, row i for batch row i (e.g. a
   * batchSize x hidden tensor of uniforms), and the sequence of draws and their widths per row does
   * not depend on `batchSize`. Given a `SampleNoise` (core/data/sample-noise.ts), a share of the
   * global batch then draws for its rows what the whole batch draws for them, so that, where the
   * loss is a mean over images, the shares' steps weighted by count / batch sum to the step on the
   * whole batch whatever the split (not the DCGAN's, whose batch norm mixes the rows).
   */
  step(
    params: Float32Array,
    batch: Float32Array,
    batchSize: number,
    noise: Noise,
    out?: Float32Array,
  ): StepResult;
  /**
   * The same step as `step` (bit for bit), with its backward pass exposed a layer at a time; absent
   * where the model computes its gradients in one piece (in the current phase, where it has phases).
   */
  stepLayered?(
    params: Float32Array,
    batch: Float32Array,
    batchSize: number,
    noise: Noise,
    out?: Float32Array,
  ): LayeredStep | null;
  /**
   * Training phases in order; absent for a model trained in one phase with the job's settings.
   * The phase list is fixed by the hyperparameters.
   */
  readonly phases?: readonly TrainingPhase[];
  /** Makes `step` train phase `index` of `phases`; called before its first step and on resume. */
  setPhase?(index: number): void;
  /**
   * Codes (batchSize x codeSize): the deterministic code (the mean for the VAE, p(h|v) for the RBM).
   * Absent for a model without an encoder (the GAN).
   */
  encode?(params: Float32Array, batch: Float32Array, batchSize: number): Float32Array;
  /** Reconstructions in [0, 1] (or the data range) from codes. */
  decode(params: Float32Array, codes: Float32Array, count: number): Float32Array;
  /** Deterministic reconstruction of a batch (decode(encode(x)), mean-field for the RBM); absent without an encoder. */
  reconstruct?(params: Float32Array, batch: Float32Array, batchSize: number): Float32Array;
  /**
   * The encoder from pixels to code as dense layers (copies), for fine-tuning it under a softmax
   * head; absent when the encoder is not a stack of dense layers.
   */
  encoderLayers?(params: Float32Array): DenseLayerValues[];
  /** Codes drawn from the prior `decode` maps to images (the GAN's N(0, I)), for a model without an encoder. */
  priorCodes?(count: number, rng: Rng): Float32Array;
  /** Samples from the model (VAE prior, RBM Gibbs chains), where it is generative. */
  sample?(params: Float32Array, count: number, rng: Rng): Float32Array;
  /**
   * Model-specific test figures for a batch, as sums over its images (the caller divides by the
   * image count): e.g. the VAE's `neg_elbo_nats`, the RBM's `pseudo_log_likelihood`.
   */
  evaluate?(params: Float32Array, batch: Float32Array, batchSize: number, rng: Rng): Record<string, number>;
  /**
   * Figures computed once for the whole test set rather than summed per batch (e.g. the RBM's exact
   * `log_likelihood_nats`, which needs log Z, or its AIS estimate, which draws from `rng`); `null`
   * when none apply.
   */
  evaluateSet?(
    params: Float32Array,
    data: Float32Array,
    count: number,
    rng: Rng,
  ): Record<string, number> | null;
  /** State that persists across steps besides parameters (PCD fantasy particles), for checkpoints. */
  saveState?(): Float32Array | null;
  loadState?(state: Float32Array): void;
  /** Forgets that state, as before the first step (a step that set it up was not committed). */
  clearState?(): void;
}

/** Number of values in a shape. */
export function shapeSize(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Total length of the flat buffer for these specs. */
export function flatLength(specs: readonly ParamSpec[]): number {
  let n = 0;
  for (const s of specs) n += shapeSize(s.shape);
  return n;
}

/** Offsets of each named parameter inside the flat buffer. */
export function paramOffsets(specs: readonly ParamSpec[]): Map<string, { offset: number; size: number }> {
  const out = new Map<string, { offset: number; size: number }>();
  let offset = 0;
  for (const s of specs) {
    const size = shapeSize(s.shape);
    out.set(s.name, { offset, size });
    offset += size;
  }
  return out;
}

/**
 * The dense layer whose weight (inputs x outputs) and bias are the parameters named `weight` and
 * `bias` in `specs`, copied out of `params`.
 */
export function denseLayerValues(
  specs: readonly ParamSpec[],
  params: Float32Array,
  weight: string,
  bias: string,
  activation: DenseLayerValues['activation'],
): DenseLayerValues {
  const offsets = paramOffsets(specs);
  const w = offsets.get(weight);
  const b = offsets.get(bias);
  const wSpec = specs.find((s) => s.name === weight);
  if (!w || !b || !wSpec || wSpec.shape.length !== 2) {
    throw new RangeError(`no dense layer with parameters "${weight}" and "${bias}"`);
  }
  return {
    inputs: wSpec.shape[0]!,
    outputs: wSpec.shape[1]!,
    weight: params.slice(w.offset, w.offset + w.size),
    bias: params.slice(b.offset, b.offset + b.size),
    activation,
  };
}
