/**
 * Stacked autoencoder trained by greedy layer-wise pretraining (Bengio et al. 2007), and with
 * masking noise the stacked denoising autoencoder (Vincent et al. 2010). Phase i trains a
 * one-layer autoencoder (encoder enc{i}, untied decoder dec{i}) on the frozen, noise-free codes
 * of the layers below it; the other layers do not move. The stack's encoder then feeds the
 * supervised fine-tuning that evaluation does with a softmax head (`encoderLayers`).
 */
import { copyTensorInto, tensorValues } from '../compute/tensor-values.js';
import { tf } from '../compute/tf.js';
import type { Rng } from '../data/rng.js';
import type { Noise } from '../data/sample-noise.js';
import { HarmoniumError } from '../errors.js';
import type { HyperValues } from './hyper.js';
import { HyperReader } from './hyper-values.js';
import { activate, dense, glorotInit, matrix, reconstructionLoss } from './layers.js';
import type { Activation, ReconstructionLoss } from './layers.js';
import { STACKED_AE_HYPERS } from './model-catalogue.js';
import { flatLength, paramOffsets } from './model.js';
import type { DenseLayerValues, Model, ParamSpec, StepResult, TrainingPhase } from './model.js';

/** Nonlinearities a hidden (non-code) layer may use. */
export type HiddenActivation = 'sigmoid' | 'relu' | 'tanh';

/** Everything that defines a stacked autoencoder, after hyperparameters have been read. */
export interface StackedAutoencoderConfig {
  readonly inputSize: number;
  /** Hidden sizes from the first layer to the code; one pretraining phase each. */
  readonly layers: readonly number[];
  /** Nonlinearity of every layer below the code. */
  readonly activation: HiddenActivation;
  readonly codeActivation: Activation;
  /** Loss of the first layer's pixel reconstruction (and of upper layers over sigmoid codes). */
  readonly loss: ReconstructionLoss;
  /** Fraction of a layer's input zeroed while it is trained (0: plain stacked autoencoder). */
  readonly noise: number;
  /** Hyperparameters as given, for summaries and checkpoints. */
  readonly hyper: Readonly<Record<string, unknown>>;
}

/** Values [offset, offset + size) of the flat buffer. */
interface Slice {
  readonly offset: number;
  readonly size: number;
}

/** Where one layer's four parameters (enc.w, enc.b, dec.w, dec.b) sit in the flat buffer. */
interface LayerSlices {
  readonly encW: Slice;
  readonly encB: Slice;
  readonly decW: Slice;
  readonly decB: Slice;
  /** [start, end) of all four together: they are consecutive. */
  readonly start: number;
  readonly end: number;
}

/** A tensor of the values of `flat` at `slice`. */
function sliceTensor(flat: Float32Array, slice: Slice, shape: number[]): tf.Tensor {
  return tf.tensor(flat.subarray(slice.offset, slice.offset + slice.size), shape, 'float32');
}

/**
 * Flat parameters, layer by layer (1-based): enc{i}.w (in x out), enc{i}.b, dec{i}.w (out x in),
 * dec{i}.b, so that each phase's parameters are one consecutive slice.
 *
 * What each layer's decoder reconstructs, and with which loss: layer 1 reconstructs the pixels
 * through a sigmoid with `loss`. An upper layer reconstructs the codes of the layer below: sigmoid
 * codes through a sigmoid with `loss` too (the cross-entropy of a soft target then includes that
 * target's entropy, so it does not fall to 0), tanh codes through a tanh and relu codes through a
 * linear output, both with squared error since Bernoulli cross-entropy does not apply to them.
 * `decode` chains the decoders with exactly these output nonlinearities.
 */
export class StackedAutoencoder implements Model {
  readonly kind = 'stacked-ae';
  readonly inputSize: number;
  readonly codeSize: number;
  readonly paramSpecs: readonly ParamSpec[];
  readonly hyper: Readonly<Record<string, unknown>>;
  readonly phases: readonly TrainingPhase[];
  /** sizes[0] is the input, sizes[i] layer i's width. */
  private readonly sizes: readonly number[];
  private readonly slices: readonly LayerSlices[];
  private readonly total: number;
  /** 0-based index of the layer `step` trains. */
  private phase = 0;

  constructor(private readonly config: StackedAutoencoderConfig) {
    const { inputSize, layers } = config;
    this.inputSize = inputSize;
    this.sizes = [inputSize, ...layers];
    this.codeSize = layers[layers.length - 1]!;
    this.hyper = config.hyper;
    const specs: ParamSpec[] = [];
    for (let i = 1; i <= layers.length; i++) {
      const [from, to] = [this.sizes[i - 1]!, this.sizes[i]!];
      specs.push({ name: `enc${i}.w`, shape: [from, to] });
      specs.push({ name: `enc${i}.b`, shape: [to] });
      specs.push({ name: `dec${i}.w`, shape: [to, from] });
      specs.push({ name: `dec${i}.b`, shape: [from] });
    }
    this.paramSpecs = specs;
    this.total = flatLength(specs);
    const offsets = paramOffsets(specs);
    this.slices = layers.map((_, k) => {
      const encW = offsets.get(`enc${k + 1}.w`)!;
      const decB = offsets.get(`dec${k + 1}.b`)!;
      return {
        encW,
        encB: offsets.get(`enc${k + 1}.b`)!,
        decW: offsets.get(`dec${k + 1}.w`)!,
        decB,
        start: encW.offset,
        end: decB.offset + decB.size,
      };
    });
    this.phases = layers.map((width, k) => ({
      name: `ae-${k + 1} ${this.sizes[k]!}-${width}`,
      epochs: null,
      training: null,
    }));
  }

  setPhase(index: number): void {
    if (!Number.isInteger(index) || index < 0 || index >= this.phases.length) {
      throw new HarmoniumError(
        'MODEL_INVALID',
        `stacked-ae: no training phase ${index}; this stack has phases 0 to ${this.phases.length - 1}`,
      );
    }
    this.phase = index;
  }

  init(rng: Rng): Float32Array {
    return glorotInit(this.paramSpecs, rng);
  }

  /** Layer k's (0-based) encoder weight (in x out) and bias as tensors. */
  private encoder(flat: Float32Array, k: number): [tf.Tensor2D, tf.Tensor1D] {
    const s = this.slices[k]!;
    const [from, to] = [this.sizes[k]!, this.sizes[k + 1]!];
    return [
      sliceTensor(flat, s.encW, [from, to]) as tf.Tensor2D,
      sliceTensor(flat, s.encB, [to]) as tf.Tensor1D,
    ];
  }

  /** Layer k's (0-based) decoder weight (out x in) and bias as tensors. */
  private decoder(flat: Float32Array, k: number): [tf.Tensor2D, tf.Tensor1D] {
    const s = this.slices[k]!;
    const [from, to] = [this.sizes[k]!, this.sizes[k + 1]!];
    return [
      sliceTensor(flat, s.decW, [to, from]) as tf.Tensor2D,
      sliceTensor(flat, s.decB, [from]) as tf.Tensor1D,
    ];
  }

  /** Nonlinearity of layer k's (0-based) code. */
  private codeAct(k: number): Activation {
    return k === this.config.layers.length - 1 ? this.config.codeActivation : this.config.activation;
  }

  /** Output nonlinearity of an upper layer's decoder, fitting the codes it reconstructs. */
  private upperOutput(): Activation {
    return this.config.activation === 'relu' ? 'linear' : this.config.activation;
  }

  /** Per-image loss of layer k's reconstruction `logits` of its input `target`. */
  private layerLoss(k: number, logits: tf.Tensor2D, target: tf.Tensor2D): tf.Tensor1D {
    if (k === 0 || this.config.activation === 'sigmoid') {
      return reconstructionLoss(this.config.loss, logits, target);
    }
    return tf.sum(tf.square(tf.sub(activate(this.upperOutput(), logits), target)), 1);
  }

  /** Codes of layers 0..count-1 stacked on `x` (the input of layer `count`). */
  private upPass(flat: Float32Array, x: tf.Tensor2D, count: number): tf.Tensor2D {
    let h = x;
    for (let k = 0; k < count; k++) {
      const [w, b] = this.encoder(flat, k);
      h = activate(this.codeAct(k), dense(h, w, b));
    }
    return h;
  }

  /** The decoders from the code down to the pixels; the pixel logits (layer 1 outputs a sigmoid). */
  private downPassLogits(flat: Float32Array, code: tf.Tensor2D): tf.Tensor2D {
    let h = code;
    for (let k = this.config.layers.length - 1; k >= 0; k--) {
      const [w, b] = this.decoder(flat, k);
      const z = dense(h, w, b);
      h = k === 0 ? z : activate(this.upperOutput(), z);
    }
    return h;
  }

  /**
   * Trains layer `phase` only: its input is the frozen up-pass of the data, masked (a fraction
   * `noise` of entries zeroed, one row of uniforms per image) when denoising; the target is that
   * input clean.
   * The direction for every other layer's parameters is written as exact zeros.
   */
  step(
    params: Float32Array,
    batch: Float32Array,
    batchSize: number,
    noise: Noise,
    out?: Float32Array,
  ): StepResult {
    const grads = out ?? new Float32Array(this.total);
    if (grads.length !== this.total) {
      throw new RangeError(`gradient buffer holds ${grads.length} values, the parameters ${this.total}`);
    }
    const k = this.phase;
    const width = this.sizes[k]!;
    const mask = this.config.noise > 0 ? this.dropMask(batchSize * width, noise) : null;
    const s = this.slices[k]!;
    let loss = 0;
    tf.tidy(() => {
      const target = this.upPass(params, matrix(batch, batchSize, this.inputSize), k);
      const input = mask
        ? (tf.mul(target, tf.tensor2d(mask, [batchSize, width], 'float32')) as tf.Tensor2D)
        : target;
      const r = tf.valueAndGrads((encW: tf.Tensor, encB: tf.Tensor, decW: tf.Tensor, decB: tf.Tensor) => {
        const code = activate(this.codeAct(k), dense(input, encW as tf.Tensor2D, encB as tf.Tensor1D));
        const logits = dense(code, decW as tf.Tensor2D, decB as tf.Tensor1D);
        return tf.mean(this.layerLoss(k, logits, target)) as tf.Scalar;
      })([...this.encoder(params, k), ...this.decoder(params, k)]);
      loss = r.value.dataSync()[0]!;
      [s.encW, s.encB, s.decW, s.decB].forEach((slice, j) =>
        copyTensorInto(r.grads[j]!, grads, slice.offset),
      );
    });
    grads.fill(0, 0, s.start);
    grads.fill(0, s.end);
    return { loss, grads };
  }

  /** 0/1 keep-mask: each entry dropped with probability `noise`. */
  private dropMask(n: number, noise: Noise): Float32Array {
    const u = noise.fillUniform(new Float32Array(n));
    const rate = this.config.noise;
    for (let i = 0; i < n; i++) u[i] = u[i]! < rate ? 0 : 1;
    return u;
  }

  /** The deterministic code: the up-pass through every encoder, without noise. */
  encode(params: Float32Array, batch: Float32Array, batchSize: number): Float32Array {
    return tensorValues(() =>
      this.upPass(params, matrix(batch, batchSize, this.inputSize), this.config.layers.length),
    );
  }

  /** The down-pass dec{L} ... dec{1}, pixel probabilities at the end. */
  decode(params: Float32Array, codes: Float32Array, count: number): Float32Array {
    return tensorValues(() => tf.sigmoid(this.downPassLogits(params, matrix(codes, count, this.codeSize))));
  }

  reconstruct(params: Float32Array, batch: Float32Array, batchSize: number): Float32Array {
    return tensorValues(() => {
      const x = matrix(batch, batchSize, this.inputSize);
      return tf.sigmoid(this.downPassLogits(params, this.upPass(params, x, this.config.layers.length)));
    });
  }

  /** Copies of the encoder layers, pixels to code. */
  encoderLayers(params: Float32Array): DenseLayerValues[] {
    return this.slices.map((s, k) => ({
      inputs: this.sizes[k]!,
      outputs: this.sizes[k + 1]!,
      weight: params.slice(s.encW.offset, s.encW.offset + s.encW.size),
      bias: params.slice(s.encB.offset, s.encB.offset + s.encB.size),
      activation: this.codeAct(k),
    }));
  }

  /** Sum over the batch of the whole stack's pixel reconstruction loss (`loss`, clean input). */
  evaluate(params: Float32Array, batch: Float32Array, batchSize: number): Record<string, number> {
    return tf.tidy(() => {
      const x = matrix(batch, batchSize, this.inputSize);
      const logits = this.downPassLogits(params, this.upPass(params, x, this.config.layers.length));
      return {
        reconstruction_loss: tf.sum(reconstructionLoss(this.config.loss, logits, x)).dataSync()[0]!,
      };
    });
  }
}

const HIDDEN_ACTIVATIONS: readonly HiddenActivation[] = ['sigmoid', 'relu', 'tanh'];
const CODE_ACTIVATIONS: readonly Activation[] = ['linear', 'sigmoid', 'relu', 'tanh'];
const LOSSES: readonly ReconstructionLoss[] = ['cross-entropy', 'mse'];

/** Builds `stacked-ae` from (validated) hyperparameters; missing ones take their defaults. */
export function createStackedAutoencoder(inputSize: number, values: HyperValues): StackedAutoencoder {
  const h = new HyperReader(STACKED_AE_HYPERS, values);
  return new StackedAutoencoder({
    inputSize,
    layers: h.intList('layers'),
    activation: h.choice('activation', HIDDEN_ACTIVATIONS),
    codeActivation: h.choice('code-activation', CODE_ACTIVATIONS),
    loss: h.choice('loss', LOSSES),
    noise: h.number('noise'),
    hyper: h.resolved(),
  });
}
