/**
 * The deep autoencoder of Hinton & Salakhutdinov, "Reducing the dimensionality of data with neural
 * networks" (Science 2006): a stack of RBMs (784-1000-500-250-30, the top one with linear,
 * unit-variance Gaussian hidden units) pretrained greedily with CD-1, unrolled into an encoder and
 * a decoder, then fine-tuned end to end by backpropagation. Their code (mnistdeepauto.m, rbm.m,
 * rbmhidlinear.m, backprop.m) fine-tunes by conjugate gradients; here the fine-tune phase takes the
 * job's optimizer.
 */
import { copyTensorInto } from '../compute/tensor-values.js';
import { tf } from '../compute/tf.js';
import type { Rng } from '../data/rng.js';
import type { Noise } from '../data/sample-noise.js';
import { HarmoniumError } from '../errors.js';
import type { HyperValues } from './hyper.js';
import { HyperReader } from './hyper-values.js';
import { dense, denseTransposed, glorotInit, matrix, reconstructionLoss } from './layers.js';
import type { Activation, ReconstructionLoss } from './layers.js';
import { DEEP_AE_HYPERS } from './model-catalogue.js';
import { denseLayerValues, flatLength, paramOffsets } from './model.js';
import type {
  DenseLayerValues,
  LayeredStep,
  Model,
  ParamSpec,
  StepResult,
  TrainingDefaults,
  TrainingPhase,
} from './model.js';
import { completeStep, denseStackStep, type StackLayer } from './dense-stack.js';
import { paramTensors, withParams } from './params.js';
import { bernoulli } from './rbm-energy.js';

/** How the weights start before fine-tuning. */
export type Pretraining = 'rbm' | 'none';

/** Everything that defines a deep autoencoder, after hyperparameters have been read. */
export interface DeepAutoencoderConfig {
  readonly inputSize: number;
  /** Sigmoid hidden layers between the pixels and the code, e.g. [1000, 500, 250]. */
  readonly layers: readonly number[];
  /** Linear code units. */
  readonly code: number;
  readonly pretrain: Pretraining;
  readonly pretrainEpochs: number;
  /** CD learning rate of the Bernoulli-hidden RBMs. */
  readonly pretrainLr: number;
  /** CD learning rate of the top RBM, whose hidden units are linear. */
  readonly codeLr: number;
  /** L2 coefficient on the RBM weights (not the biases) during pretraining. */
  readonly weightDecay: number;
  /** Fine-tuning loss per image, summed over pixels. */
  readonly loss: ReconstructionLoss;
  readonly hyper: Readonly<Record<string, unknown>>;
}

/** Standard deviation of the initial RBM weights (rbm.m: 0.1 * randn). */
const RBM_INIT_STD = 0.1;

/** rbm.m and rbmhidlinear.m: momentum 0.5 for the first 5 epochs, then 0.9. */
const RBM_MOMENTUM = { momentum: 0.5, finalMomentum: 0.9, momentumSwitchEpoch: 5 } as const;

/** Copies the rows x cols matrix at `from` of `buf` transposed (cols x rows) to `to`, in cache-sized tiles. */
function transposeWithin(buf: Float32Array, from: number, to: number, rows: number, cols: number): void {
  const tile = 32;
  for (let r0 = 0; r0 < rows; r0 += tile) {
    const r1 = Math.min(rows, r0 + tile);
    for (let c0 = 0; c0 < cols; c0 += tile) {
      const c1 = Math.min(cols, c0 + tile);
      for (let r = r0; r < r1; r++) {
        for (let c = c0; c < c1; c++) buf[to + c * rows + r] = buf[from + r * cols + c]!;
      }
    }
  }
}

/**
 * Flat parameters, for RBM i joining sizes[i] (visible) and sizes[i + 1] (hidden), sizes =
 * [input, ...layers, code]: first the encoder enc{i}.w (sizes[i] x sizes[i+1]) and enc{i}.b (the
 * RBM's hidden bias) for every i, then the decoder dec{i}.w (sizes[i+1] x sizes[i], untied) and
 * dec{i}.b (the RBM's visible bias). The decoder applies dec{L-1} first and dec0 last.
 *
 * Phases with `pretrain rbm`: one CD-1 phase per RBM, then `finetune`; with `pretrain none`, only
 * `finetune`. In RBM phase i the step writes the CD direction into enc{i}.w and its exact transpose
 * into dec{i}.w, so that identical optimizer updates keep the decoder the encoder's transpose and
 * unrolling needs no copy; every slice the phase does not train gets zeros. A step before any
 * `setPhase` trains phase 0.
 */
export class DeepAutoencoder implements Model {
  readonly kind = 'deep-ae';
  readonly inputSize: number;
  readonly codeSize: number;
  readonly paramSpecs: readonly ParamSpec[];
  readonly hyper: Readonly<Record<string, unknown>>;
  readonly phases: readonly TrainingPhase[];
  /** [input, ...layers, code]. */
  private readonly sizes: readonly number[];
  private readonly offsets: ReadonlyMap<string, { offset: number; size: number }>;
  private phase = 0;
  private readonly stack: readonly StackLayer[];

  constructor(private readonly config: DeepAutoencoderConfig) {
    this.inputSize = config.inputSize;
    this.codeSize = config.code;
    this.hyper = config.hyper;
    this.sizes = [config.inputSize, ...config.layers, config.code];
    const rbms = this.sizes.length - 1;
    const specs: ParamSpec[] = [];
    for (let i = 0; i < rbms; i++) {
      specs.push({ name: `enc${i}.w`, shape: [this.sizes[i]!, this.sizes[i + 1]!] });
      specs.push({ name: `enc${i}.b`, shape: [this.sizes[i + 1]!] });
    }
    for (let i = 0; i < rbms; i++) {
      specs.push({ name: `dec${i}.w`, shape: [this.sizes[i + 1]!, this.sizes[i]!] });
      specs.push({ name: `dec${i}.b`, shape: [this.sizes[i]!] });
    }
    this.paramSpecs = specs;
    this.offsets = paramOffsets(specs);
    this.stack = this.stackLayers();
    const finetune: TrainingPhase = { name: 'finetune', epochs: null, training: null };
    this.phases =
      config.pretrain === 'rbm'
        ? [...Array.from({ length: rbms }, (_, i) => this.rbmPhase(i)), finetune]
        : [finetune];
  }

  private rbmPhase(i: number): TrainingPhase {
    const top = i === this.sizes.length - 2;
    const training: TrainingDefaults = {
      optimizer: 'sgd',
      lr: top ? this.config.codeLr : this.config.pretrainLr,
      ...RBM_MOMENTUM,
    };
    return {
      name: `rbm-${i + 1} ${this.sizes[i]}-${this.sizes[i + 1]}${top ? ' (linear)' : ''}`,
      epochs: this.config.pretrainEpochs,
      training,
    };
  }

  setPhase(index: number): void {
    if (!Number.isInteger(index) || index < 0 || index >= this.phases.length) {
      throw new HarmoniumError(
        'MODEL_INVALID',
        `deep-ae: phase ${index} does not exist; this model has ${this.phases.length} (${this.phases.map((p) => p.name).join(', ')})`,
      );
    }
    this.phase = index;
  }

  /**
   * `pretrain rbm`: every enc{i}.w ~ N(0, 0.1^2) as in rbm.m, dec{i}.w its transpose, biases 0.
   * `pretrain none`: every encoder and decoder matrix Glorot-uniform independently, biases 0.
   */
  init(rng: Rng): Float32Array {
    if (this.config.pretrain === 'none') return glorotInit(this.paramSpecs, rng);
    const flat = new Float32Array(flatLength(this.paramSpecs));
    for (let i = 0; i < this.sizes.length - 1; i++) {
      const enc = this.slot(`enc${i}.w`);
      rng.fillNormal(flat.subarray(enc.offset, enc.offset + enc.size), 0, RBM_INIT_STD);
      transposeWithin(flat, enc.offset, this.slot(`dec${i}.w`).offset, this.sizes[i]!, this.sizes[i + 1]!);
    }
    return flat;
  }

  private slot(name: string): { offset: number; size: number } {
    return this.offsets.get(name)!;
  }

  /** One parameter of `flat` as a tensor of its spec's shape. */
  private tensor(flat: Float32Array, name: string, shape: readonly number[]): tf.Tensor {
    const { offset, size } = this.slot(name);
    return tf.tensor(flat.subarray(offset, offset + size), [...shape], 'float32');
  }

  /** Up-pass through the first `count` encoder layers (sigmoid, except the linear code layer). */
  private up(
    w: readonly tf.Tensor2D[],
    b: readonly tf.Tensor1D[],
    x: tf.Tensor2D,
    count: number,
  ): tf.Tensor2D {
    let h = x;
    for (let i = 0; i < count; i++) {
      const z = dense(h, w[i]!, b[i]!);
      h = i === this.sizes.length - 2 ? z : tf.sigmoid(z);
    }
    return h;
  }

  /** Output logits from codes: the decoder's sigmoid layers, then the logistic output's pre-activation. */
  private downLogits(w: readonly tf.Tensor2D[], b: readonly tf.Tensor1D[], code: tf.Tensor2D): tf.Tensor2D {
    let h = code;
    for (let i = this.sizes.length - 2; i >= 0; i--) {
      const z = dense(h, w[i]!, b[i]!);
      h = i === 0 ? z : tf.sigmoid(z);
    }
    return h;
  }

  /** Encoder (w, b) and decoder (w, b) tensors from the flat parameters, in spec order. */
  private split(p: readonly tf.Tensor[]): {
    encW: tf.Tensor2D[];
    encB: tf.Tensor1D[];
    decW: tf.Tensor2D[];
    decB: tf.Tensor1D[];
  } {
    const l = this.sizes.length - 1;
    return {
      encW: Array.from({ length: l }, (_, i) => p[2 * i] as tf.Tensor2D),
      encB: Array.from({ length: l }, (_, i) => p[2 * i + 1] as tf.Tensor1D),
      decW: Array.from({ length: l }, (_, i) => p[2 * l + 2 * i] as tf.Tensor2D),
      decB: Array.from({ length: l }, (_, i) => p[2 * l + 2 * i + 1] as tf.Tensor1D),
    };
  }

  step(
    params: Float32Array,
    batch: Float32Array,
    batchSize: number,
    noise: Noise,
    out?: Float32Array,
  ): StepResult {
    const rbms = this.sizes.length - 1;
    const rbm = this.config.pretrain === 'rbm' && this.phase < rbms ? this.phase : -1;
    return rbm >= 0
      ? this.cdStep(rbm, params, batch, batchSize, noise, out)
      : completeStep(this.stepLayered(params, batch, batchSize, noise, out)!);
  }

  /**
   * CD-1 on RBM i, whose data are the hidden probabilities of the RBMs below it (frozen, so equal
   * to those rbm.m hands up). Bernoulli hidden units: h0 ~ p(h|v0) from uniforms; the linear top
   * (rbmhidlinear.m): h0 = v0 W + b plus N(0, 1) noise. Both: v1 = sigmoid(h0 W^T + a), then the
   * hidden probabilities (or linear means) of v1. The one draw per step is h0's, one row per image.
   * loss: squared error per image between the RBM's data and v1.
   * Direction: -(<v h>data - <v h>recon) / batch + weightDecay * W, and the bias analogues without decay.
   */
  private cdStep(
    i: number,
    params: Float32Array,
    batch: Float32Array,
    batchSize: number,
    noise: Noise,
    out: Float32Array = new Float32Array(flatLength(this.paramSpecs)),
  ): StepResult {
    if (out.length !== flatLength(this.paramSpecs)) {
      throw new RangeError(
        `gradient buffer holds ${out.length} values, the parameters ${flatLength(this.paramSpecs)}`,
      );
    }
    const linear = i === this.sizes.length - 2;
    const n = this.sizes[i]!;
    const m = this.sizes[i + 1]!;
    const { weightDecay } = this.config;
    let loss = 0;
    const stats = tf.tidy(() => {
      const w = Array.from(
        { length: i + 1 },
        (_, j) => this.tensor(params, `enc${j}.w`, [this.sizes[j]!, this.sizes[j + 1]!]) as tf.Tensor2D,
      );
      const b = Array.from(
        { length: i + 1 },
        (_, j) => this.tensor(params, `enc${j}.b`, [this.sizes[j + 1]!]) as tf.Tensor1D,
      );
      const a = this.tensor(params, `dec${i}.b`, [n]) as tf.Tensor1D;
      const v0 = this.up(w, b, matrix(batch, batchSize, this.inputSize), i);
      const hidden = (v: tf.Tensor2D): tf.Tensor2D => {
        const z = dense(v, w[i]!, b[i]!);
        return linear ? z : tf.sigmoid(z);
      };
      const ph0 = hidden(v0);
      const h0: tf.Tensor2D = linear
        ? tf.add(
            ph0,
            tf.tensor2d(noise.fillNormal(new Float32Array(batchSize * m)), [batchSize, m], 'float32'),
          )
        : bernoulli(ph0, noise);
      const v1 = tf.sigmoid(denseTransposed(h0, w[i]!, a));
      const ph1 = hidden(v1);
      loss = tf.sum(tf.square(tf.sub(v0, v1))).dataSync()[0]! / batchSize;
      const gW = tf.add(
        tf.div(tf.sub(tf.matMul(v1, ph1, true, false), tf.matMul(v0, ph0, true, false)), batchSize),
        tf.mul(weightDecay, w[i]!),
      );
      const gB = tf.sub(tf.mean(ph1, 0), tf.mean(ph0, 0));
      const gA = tf.sub(tf.mean(v1, 0), tf.mean(v0, 0));
      return [gW, gB, gA];
    });
    try {
      out.fill(0);
      const [gW, gB, gA] = stats as [tf.Tensor, tf.Tensor, tf.Tensor];
      const encW = this.slot(`enc${i}.w`).offset;
      copyTensorInto(gW, out, encW);
      copyTensorInto(gB, out, this.slot(`enc${i}.b`).offset);
      copyTensorInto(gA, out, this.slot(`dec${i}.b`).offset);
      transposeWithin(out, encW, this.slot(`dec${i}.w`).offset, n, m);
      return { loss, grads: out };
    } finally {
      for (const t of stats) t.dispose();
    }
  }

  /**
   * Fine-tuning, layer by layer: backpropagation through the unrolled net. loss: the configured
   * loss per image summed over pixels, averaged over the batch; extras.sse: the squared error per
   * image (Hinton & Salakhutdinov's figure). Null in the CD phases, whose statistics come in one piece.
   */
  stepLayered(
    params: Float32Array,
    batch: Float32Array,
    batchSize: number,
    _noise: Noise,
    out?: Float32Array,
  ): LayeredStep | null {
    if (this.config.pretrain === 'rbm' && this.phase < this.sizes.length - 1) return null;
    const l = this.sizes.length - 1;
    const x = batch.subarray(0, batchSize * this.inputSize);
    return denseStackStep(
      this.stack,
      { loss: this.config.loss, sparsity: 0, codeLayer: l - 1, sse: true },
      params,
      x,
      x,
      batchSize,
      out,
    );
  }

  /** The unrolled net: sigmoid hidden layers, linear code, sigmoid decoder layers, output logits. */
  private stackLayers(): StackLayer[] {
    const l = this.sizes.length - 1;
    const layer = (name: string, inputs: number, outputs: number, activation: Activation): StackLayer => ({
      inputs,
      outputs,
      weight: this.slot(`${name}.w`).offset,
      transposed: false,
      bias: this.slot(`${name}.b`).offset,
      activation,
    });
    const encoder = Array.from({ length: l }, (_, i) =>
      layer(`enc${i}`, this.sizes[i]!, this.sizes[i + 1]!, i === l - 1 ? 'linear' : 'sigmoid'),
    );
    const decoder = Array.from({ length: l }, (_, j) => {
      const i = l - 1 - j;
      return layer(`dec${i}`, this.sizes[i + 1]!, this.sizes[i]!, i === 0 ? 'linear' : 'sigmoid');
    });
    return [...encoder, ...decoder];
  }

  /** The linear code of each image (the encoder's up-pass). */
  encode(params: Float32Array, batch: Float32Array, batchSize: number): Float32Array {
    return withParams(this.paramSpecs, params, (p) => {
      const { encW, encB } = this.split(p);
      return this.up(encW, encB, matrix(batch, batchSize, this.inputSize), this.sizes.length - 1);
    });
  }

  /** Pixel probabilities from codes (the decoder's down-pass). */
  decode(params: Float32Array, codes: Float32Array, count: number): Float32Array {
    return withParams(this.paramSpecs, params, (p) => {
      const { decW, decB } = this.split(p);
      return tf.sigmoid(this.downLogits(decW, decB, matrix(codes, count, this.codeSize)));
    });
  }

  reconstruct(params: Float32Array, batch: Float32Array, batchSize: number): Float32Array {
    return withParams(this.paramSpecs, params, (p) => {
      const { encW, encB, decW, decB } = this.split(p);
      const code = this.up(encW, encB, matrix(batch, batchSize, this.inputSize), this.sizes.length - 1);
      return tf.sigmoid(this.downLogits(decW, decB, code));
    });
  }

  /** Sum over the batch of the fine-tuning loss (the report computes the squared error itself). */
  evaluate(params: Float32Array, batch: Float32Array, batchSize: number): Record<string, number> {
    return tf.tidy(() => {
      const { encW, encB, decW, decB } = this.split(paramTensors(this.paramSpecs, params));
      const x = matrix(batch, batchSize, this.inputSize);
      const logits = this.downLogits(decW, decB, this.up(encW, encB, x, this.sizes.length - 1));
      return {
        reconstruction_loss: tf.sum(reconstructionLoss(this.config.loss, logits, x)).dataSync()[0]!,
      };
    });
  }

  /** The encoder as dense layers (copies): sigmoid hidden layers, then the linear code layer. */
  encoderLayers(params: Float32Array): DenseLayerValues[] {
    const l = this.sizes.length - 1;
    return Array.from({ length: l }, (_, i) =>
      denseLayerValues(this.paramSpecs, params, `enc${i}.w`, `enc${i}.b`, i === l - 1 ? 'linear' : 'sigmoid'),
    );
  }
}

/** Builds a deep autoencoder from (validated) hyperparameters; missing ones take their defaults. */
export function createDeepAutoencoder(inputSize: number, values: HyperValues): DeepAutoencoder {
  const h = new HyperReader(DEEP_AE_HYPERS, values);
  return new DeepAutoencoder({
    inputSize,
    layers: h.intList('layers'),
    code: h.int('code'),
    pretrain: h.choice('pretrain', ['rbm', 'none'] as const),
    pretrainEpochs: h.int('pretrain-epochs'),
    pretrainLr: h.number('pretrain-lr'),
    codeLr: h.number('code-lr'),
    weightDecay: h.number('weight-decay'),
    loss: h.choice('loss', ['cross-entropy', 'mse'] as const),
    hyper: h.resolved(),
  });
}
