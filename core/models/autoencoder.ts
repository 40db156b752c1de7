/**
 * The autoencoder family: plain (`ae`), sparse (`sparse-ae`), denoising (`denoising-ae`) and
 * contractive (`contractive-ae`). One class covers them all; the variants differ only in how the
 * input is corrupted before encoding and which penalty is added to the reconstruction loss.
 */
import { tf } from '../compute/tf.js';
import type { Rng } from '../data/rng.js';
import type { Noise } from '../data/sample-noise.js';
import { ConfigError } from '../errors.js';
import type { HyperValues } from './hyper.js';
import { HyperReader } from './hyper-values.js';
import { activate, dense, denseTransposed, glorotInit, matrix, reconstructionLoss } from './layers.js';
import type { Activation, ReconstructionLoss } from './layers.js';
import { denseLayerValues, paramOffsets } from './model.js';
import type { DenseLayerValues, LayeredStep, Model, ParamSpec, StepResult } from './model.js';
import { completeStep, denseStackStep, type StackLayer } from './dense-stack.js';
import {
  AE_HYPERS,
  CONTRACTIVE_AE_HYPERS,
  DENOISING_AE_HYPERS,
  SPARSE_AE_HYPERS,
} from './model-catalogue.js';
import { lossAndGrads, paramTensors, withParams } from './params.js';

/** Denoising corruption: zero pixels independently with probability rate, or add N(0, rate^2). */
export type NoiseKind = 'masking' | 'gaussian';

/** Everything that defines an autoencoder, after hyperparameters have been read. */
export interface AutoencoderConfig {
  readonly kind: string;
  readonly inputSize: number;
  /** Encoder sizes from the first hidden layer to the code; the decoder mirrors them. */
  readonly layers: readonly number[];
  /** Nonlinearity of every hidden layer except the code. */
  readonly activation: Activation;
  readonly codeActivation: Activation;
  /** Decoder weights are the encoder's transposed; the decoder then owns only biases. */
  readonly tied: boolean;
  readonly loss: ReconstructionLoss;
  /** Weight of the L1 penalty sum_j |h_j| on the code (0: none). */
  readonly sparsity: number;
  /** Weight of the contractive penalty ||J_h(x)||_F^2 (0: none); needs one sigmoid layer. */
  readonly contraction: number;
  /** Corruption of the input for the denoising variant (null: none). */
  readonly noise: { readonly kind: NoiseKind; readonly rate: number } | null;
  /** Hyperparameters as given, for summaries and checkpoints. */
  readonly hyper: Readonly<Record<string, unknown>>;
}

/** An MLP autoencoder whose flat parameters are enc0.w, enc0.b, ..., then dec0.(w,)b, .... */
export class Autoencoder implements Model {
  readonly kind: string;
  readonly inputSize: number;
  readonly codeSize: number;
  readonly paramSpecs: readonly ParamSpec[];
  readonly hyper: Readonly<Record<string, unknown>>;
  private readonly sizes: readonly number[];
  private readonly stack: readonly StackLayer[];

  constructor(private readonly config: AutoencoderConfig) {
    const { layers, inputSize } = config;
    if (config.contraction > 0 && (layers.length !== 1 || config.codeActivation !== 'sigmoid')) {
      throw new ConfigError(
        'layers',
        `the contractive penalty needs one sigmoid encoder layer, got [${layers.join(',')}]`,
      );
    }
    this.kind = config.kind;
    this.inputSize = inputSize;
    this.sizes = [inputSize, ...layers];
    this.codeSize = layers[layers.length - 1]!;
    this.hyper = config.hyper;
    const specs: ParamSpec[] = [];
    for (let i = 0; i < layers.length; i++) {
      specs.push({ name: `enc${i}.w`, shape: [this.sizes[i]!, this.sizes[i + 1]!] });
      specs.push({ name: `enc${i}.b`, shape: [this.sizes[i + 1]!] });
    }
    for (let j = 0; j < layers.length; j++) {
      const [from, to] = this.decoderSizes(j);
      if (!config.tied) specs.push({ name: `dec${j}.w`, shape: [from, to] });
      specs.push({ name: `dec${j}.b`, shape: [to] });
    }
    this.paramSpecs = specs;
    this.stack = this.stackLayers();
  }

  /** The encoder, then the decoder, as dense layers over the flat parameters. */
  private stackLayers(): StackLayer[] {
    const l = this.config.layers.length;
    const at = paramOffsets(this.paramSpecs);
    const offset = (name: string): number => at.get(name)!.offset;
    const encoder = Array.from({ length: l }, (_, i): StackLayer => ({
      inputs: this.sizes[i]!,
      outputs: this.sizes[i + 1]!,
      weight: offset(`enc${i}.w`),
      transposed: false,
      bias: offset(`enc${i}.b`),
      activation: i === l - 1 ? this.config.codeActivation : this.config.activation,
    }));
    const decoder = Array.from({ length: l }, (_, j): StackLayer => {
      const [inputs, outputs] = this.decoderSizes(j);
      return {
        inputs,
        outputs,
        weight: offset(this.config.tied ? `enc${l - 1 - j}.w` : `dec${j}.w`),
        transposed: this.config.tied,
        bias: offset(`dec${j}.b`),
        activation: j === l - 1 ? 'linear' : this.config.activation,
      };
    });
    return [...encoder, ...decoder];
  }

  /** Decoder layer j maps sizes[L - j] to sizes[L - j - 1]. */
  private decoderSizes(j: number): [number, number] {
    const l = this.config.layers.length;
    return [this.sizes[l - j]!, this.sizes[l - j - 1]!];
  }

  init(rng: Rng): Float32Array {
    return glorotInit(this.paramSpecs, rng);
  }

  /** The code of `x`. */
  private encodeT(p: readonly tf.Tensor[], x: tf.Tensor2D): tf.Tensor2D {
    const l = this.config.layers.length;
    let h = x;
    for (let i = 0; i < l; i++) {
      const z = dense(h, p[2 * i] as tf.Tensor2D, p[2 * i + 1] as tf.Tensor1D);
      h = activate(i === l - 1 ? this.config.codeActivation : this.config.activation, z);
    }
    return h;
  }

  /** Output logits (pre-sigmoid) from codes. */
  private decodeLogits(p: readonly tf.Tensor[], code: tf.Tensor2D): tf.Tensor2D {
    const l = this.config.layers.length;
    let h = code;
    for (let j = 0; j < l; j++) {
      const z = this.config.tied
        ? denseTransposed(h, p[2 * (l - 1 - j)] as tf.Tensor2D, p[2 * l + j] as tf.Tensor1D)
        : dense(h, p[2 * l + 2 * j] as tf.Tensor2D, p[2 * l + 2 * j + 1] as tf.Tensor1D);
      h = j === l - 1 ? z : activate(this.config.activation, z);
    }
    return h;
  }

  /** Per-image penalty on the code (sparsity and contraction terms, already weighted). */
  private penalty(p: readonly tf.Tensor[], code: tf.Tensor2D): tf.Tensor1D | null {
    const { sparsity, contraction } = this.config;
    let out: tf.Tensor1D | null = null;
    if (sparsity > 0) out = tf.mul(sparsity, tf.sum(tf.abs(code), 1));
    if (contraction > 0) {
      // Sigmoid encoder: dh_j/dx_i = h_j (1 - h_j) W_ij, so ||J||_F^2 = sum_j (h_j(1-h_j))^2 sum_i W_ij^2.
      const colNorms = tf.sum(tf.square(p[0]!), 0);
      const slope = tf.mul(code, tf.sub(1, code));
      const c: tf.Tensor1D = tf.mul(contraction, tf.sum(tf.mul(tf.square(slope), colNorms), 1));
      out = out ? tf.add(out, c) : c;
    }
    return out;
  }

  /** The encoder's input: `clean` itself, or a corrupted copy drawn from `noise` (one row per image). */
  private corrupt(clean: Float32Array, noise: Noise): Float32Array {
    const corruption = this.config.noise;
    if (!corruption || corruption.rate === 0) return clean;
    if (corruption.kind === 'masking') {
      const u = noise.fillUniform(new Float32Array(clean.length));
      for (let i = 0; i < u.length; i++) u[i] = u[i]! < corruption.rate ? 0 : clean[i]!;
      return u;
    }
    const e = noise.fillNormal(new Float32Array(clean.length), 0, corruption.rate);
    for (let i = 0; i < e.length; i++) e[i] = e[i]! + clean[i]!;
    return e;
  }

  step(
    params: Float32Array,
    batch: Float32Array,
    batchSize: number,
    noise: Noise,
    out?: Float32Array,
  ): StepResult {
    const layered = this.stepLayered(params, batch, batchSize, noise, out);
    if (layered) return completeStep(layered);
    const clean = batch.subarray(0, batchSize * this.inputSize);
    const input = this.corrupt(clean, noise);
    const r = lossAndGrads(
      this.paramSpecs,
      params,
      (p, report) => {
        const target = matrix(clean, batchSize, this.inputSize);
        const x = input === clean ? target : matrix(input, batchSize, this.inputSize);
        const code = this.encodeT(p, x);
        const recon = tf.mean(
          reconstructionLoss(this.config.loss, this.decodeLogits(p, code), target),
        ) as tf.Scalar;
        const pen = this.penalty(p, code);
        if (!pen) return recon;
        const penMean = tf.mean(pen) as tf.Scalar;
        report('reconstruction', recon);
        report('penalty', penMean);
        return tf.add(recon, penMean);
      },
      out,
    );
    return Object.keys(r.extras).length > 0
      ? { loss: r.loss, grads: r.grads, extras: r.extras }
      : { loss: r.loss, grads: r.grads };
  }

  /** Layer by layer for every variant but the contractive one, whose penalty involves the Jacobian. */
  stepLayered(
    params: Float32Array,
    batch: Float32Array,
    batchSize: number,
    noise: Noise,
    out?: Float32Array,
  ): LayeredStep | null {
    if (this.config.contraction > 0) return null;
    const clean = batch.subarray(0, batchSize * this.inputSize);
    const { loss, sparsity } = this.config;
    return denseStackStep(
      this.stack,
      { loss, sparsity, codeLayer: this.config.layers.length - 1, sse: false },
      params,
      this.corrupt(clean, noise),
      clean,
      batchSize,
      out,
    );
  }

  /** The encoder's dense layers (hidden activation, then the code activation). */
  encoderLayers(params: Float32Array): DenseLayerValues[] {
    const l = this.config.layers.length;
    return Array.from({ length: l }, (_, i) =>
      denseLayerValues(
        this.paramSpecs,
        params,
        `enc${i}.w`,
        `enc${i}.b`,
        i === l - 1 ? this.config.codeActivation : this.config.activation,
      ),
    );
  }

  encode(params: Float32Array, batch: Float32Array, batchSize: number): Float32Array {
    return withParams(this.paramSpecs, params, (p) =>
      this.encodeT(p, matrix(batch, batchSize, this.inputSize)),
    );
  }

  decode(params: Float32Array, codes: Float32Array, count: number): Float32Array {
    return withParams(this.paramSpecs, params, (p) =>
      tf.sigmoid(this.decodeLogits(p, matrix(codes, count, this.codeSize))),
    );
  }

  reconstruct(params: Float32Array, batch: Float32Array, batchSize: number): Float32Array {
    return withParams(this.paramSpecs, params, (p) =>
      tf.sigmoid(this.decodeLogits(p, this.encodeT(p, matrix(batch, batchSize, this.inputSize)))),
    );
  }

  /** Sum over the batch of the clean-input reconstruction loss (the report computes the squared error). */
  evaluate(params: Float32Array, batch: Float32Array, batchSize: number): Record<string, number> {
    return tf.tidy(() => {
      const p = paramTensors(this.paramSpecs, params);
      const x = matrix(batch, batchSize, this.inputSize);
      const logits = this.decodeLogits(p, this.encodeT(p, x));
      return {
        reconstruction_loss: tf.sum(reconstructionLoss(this.config.loss, logits, x)).dataSync()[0]!,
      };
    });
  }
}

const CODE_ACTIVATIONS: readonly Activation[] = ['linear', 'sigmoid', 'relu', 'tanh'];
const HIDDEN_ACTIVATIONS: readonly Activation[] = ['sigmoid', 'relu', 'tanh'];
const LOSSES: readonly ReconstructionLoss[] = ['cross-entropy', 'mse'];

/** Builds one of the autoencoder kinds from (validated) hyperparameters; missing ones take their defaults. */
export function createAutoencoder(
  kind: 'ae' | 'sparse-ae' | 'denoising-ae' | 'contractive-ae',
  inputSize: number,
  values: HyperValues,
): Autoencoder {
  const specs = {
    ae: AE_HYPERS,
    'sparse-ae': SPARSE_AE_HYPERS,
    'denoising-ae': DENOISING_AE_HYPERS,
    'contractive-ae': CONTRACTIVE_AE_HYPERS,
  }[kind];
  const h = new HyperReader(specs, values);
  const layers = h.intList('layers');
  const contractive = kind === 'contractive-ae';
  if (contractive && layers.length !== 1) {
    throw new ConfigError(
      'layers',
      `contractive-ae has one encoder layer, got ${layers.length} sizes [${layers.join(',')}]`,
    );
  }
  return new Autoencoder({
    kind,
    inputSize,
    layers,
    activation: contractive ? 'sigmoid' : h.choice('activation', HIDDEN_ACTIVATIONS),
    codeActivation: contractive ? 'sigmoid' : h.choice('code-activation', CODE_ACTIVATIONS),
    tied: h.bool('tied'),
    loss: h.choice('loss', LOSSES),
    sparsity: kind === 'sparse-ae' ? h.number('sparsity') : 0,
    contraction: contractive ? h.number('contraction') : 0,
    noise:
      kind === 'denoising-ae'
        ? { kind: h.choice('noise', ['masking', 'gaussian'] as const), rate: h.number('noise-rate') }
        : null,
    hyper: h.resolved(),
  });
}
