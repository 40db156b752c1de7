/**
 * The convolutional autoencoder (`conv-ae`). With its defaults on 28x28x1 images it is the network
 * of this PyTorch reference (bench/torch-models.py times the same one):
 *
 *   Conv2d(1,16,3,padding=1), ReLU, MaxPool2d(2), Conv2d(16,8,3,padding=1), ReLU, MaxPool2d(2),
 *   ConvTranspose2d(8,16,2,stride=2), ReLU, ConvTranspose2d(16,1,2,stride=2), Sigmoid
 *
 * Images are NHWC (a batch row of height * width * channels values, row-major, as the corpora
 * store them). Encoder layer i is a kernel x kernel convolution with 'same' padding to filters[i]
 * channels, the activation, then a 2x2 max-pool; the code is the last pooled feature map
 * flattened in NHWC order. Decoder layer j is a 2x2 stride-2 transposed convolution undoing one
 * pooling stage, back through the encoder's channel counts to the image's; every decoder layer but
 * the last is followed by the activation, the last by the sigmoid output.
 */
import { tf } from '../compute/tf.js';
import type { Rng } from '../data/rng.js';
import type { Noise } from '../data/sample-noise.js';
import { ConfigError } from '../errors.js';
import type { HyperValues } from './hyper.js';
import { HyperReader } from './hyper-values.js';
import { glorotUniform, matrix, reconstructionLoss, type ReconstructionLoss } from './layers.js';
import { flatLength, paramOffsets } from './model.js';
import type { Model, ParamSpec, StepResult } from './model.js';
import { CONV_AE_HYPERS } from './model-catalogue.js';
import { lossAndGrads, paramTensors, withParams } from './params.js';

/** Nonlinearity after every encoder convolution and every decoder layer but the last. */
export type ConvActivation = 'relu' | 'sigmoid' | 'tanh';

/** Everything that defines a convolutional autoencoder, after hyperparameters have been read. */
export interface ConvAutoencoderConfig {
  readonly inputSize: number;
  /** Image channels; the image is side x side x channels with side inferred from inputSize. */
  readonly channels: number;
  /** Output channels of each encoder convolution; one 2x2 max-pool follows each. */
  readonly filters: readonly number[];
  /** Side of the (square, odd) encoder convolution kernels. */
  readonly kernel: number;
  readonly activation: ConvActivation;
  /**
   * Per image, summed over pixels, then averaged over the batch: `mse` is sum_i (sigmoid(z)_i -
   * x_i)^2, `cross-entropy` the Bernoulli negative log-likelihood computed on the logits z.
   */
  readonly loss: ReconstructionLoss;
  /** Hyperparameters as given, for summaries and checkpoints. */
  readonly hyper: Readonly<Record<string, unknown>>;
}

/** Side of the 2x2 max-pool windows and of the stride-2 transposed convolutions that undo them. */
const POOL = 2;

/** The side of the square image behind `inputSize` values of `channels` channels; a ConfigError otherwise. */
export function imageSide(inputSize: number, channels: number, stages: number): number {
  const pixels = inputSize / channels;
  const side = Math.round(Math.sqrt(pixels));
  if (!Number.isInteger(pixels) || side * side !== pixels) {
    throw new ConfigError(
      'channels',
      `conv-ae needs square images of side x side x channels values: ${inputSize} values per image is not ` +
        `${channels} x side^2 for any integer side (give --channels for colour images)`,
    );
  }
  const step = POOL ** stages;
  if (side % step !== 0) {
    throw new ConfigError(
      'filters',
      `image side ${side} is not divisible by ${step} = 2^${stages} (one 2x2 max-pool per encoder layer, ` +
        `${stages} layers); use fewer --filters or images whose side is a multiple of ${step}`,
    );
  }
  return side;
}

function activate4d(name: ConvActivation, x: tf.Tensor4D): tf.Tensor4D {
  switch (name) {
    case 'relu':
      return tf.relu(x);
    case 'sigmoid':
      return tf.sigmoid(x);
    case 'tanh':
      return tf.tanh(x);
  }
}

/**
 * A convolutional autoencoder whose flat parameters are enc0.w [k,k,in,out], enc0.b [out], ...,
 * then dec0.w [2,2,out,in] (the layout tf.conv2dTranspose takes), dec0.b [out], ....
 */
export class ConvAutoencoder implements Model {
  readonly kind = 'conv-ae';
  readonly inputSize: number;
  readonly codeSize: number;
  readonly paramSpecs: readonly ParamSpec[];
  readonly hyper: Readonly<Record<string, unknown>>;
  /** Image side. */
  readonly side: number;
  /** Side of the code's feature map (side / 2^layers). */
  private readonly codeSide: number;
  /** Channel counts from the image through every encoder layer: [channels, ...filters]. */
  private readonly depths: readonly number[];

  constructor(private readonly config: ConvAutoencoderConfig) {
    const { inputSize, channels, filters, kernel } = config;
    if (kernel % 2 !== 1) {
      // An even kernel has no symmetric 'same' padding (TF pads one more at the bottom/right).
      throw new ConfigError(
        'kernel',
        `expected an odd kernel size (symmetric 'same' padding), got ${kernel}`,
      );
    }
    const l = filters.length;
    this.side = imageSide(inputSize, channels, l);
    this.codeSide = this.side / POOL ** l;
    this.inputSize = inputSize;
    this.depths = [channels, ...filters];
    this.codeSize = this.codeSide * this.codeSide * filters[l - 1]!;
    this.hyper = config.hyper;
    const specs: ParamSpec[] = [];
    for (let i = 0; i < l; i++) {
      specs.push({ name: `enc${i}.w`, shape: [kernel, kernel, this.depths[i]!, this.depths[i + 1]!] });
      specs.push({ name: `enc${i}.b`, shape: [this.depths[i + 1]!] });
    }
    for (let j = 0; j < l; j++) {
      const [from, to] = [this.depths[l - j]!, this.depths[l - j - 1]!];
      specs.push({ name: `dec${j}.w`, shape: [POOL, POOL, to, from] });
      specs.push({ name: `dec${j}.b`, shape: [to] });
    }
    this.paramSpecs = specs;
  }

  /**
   * Glorot/Xavier uniform for every kernel with the convolution fans fanIn = kh * kw * in and
   * fanOut = kh * kw * out (as Keras computes them; their sum, all Glorot uses, is the same for a
   * transposed kernel); biases zero.
   */
  init(rng: Rng): Float32Array {
    const flat = new Float32Array(flatLength(this.paramSpecs));
    const offsets = paramOffsets(this.paramSpecs);
    for (const s of this.paramSpecs) {
      if (s.shape.length !== 4) continue;
      const [kh, kw, a, b] = s.shape as [number, number, number, number];
      const { offset, size } = offsets.get(s.name)!;
      glorotUniform(rng, kh * kw * a, kh * kw * b, flat.subarray(offset, offset + size));
    }
    return flat;
  }

  /** The code feature map (batch x codeSide x codeSide x filters[-1]) of images `x` (batch x inputSize). */
  private encodeT(p: readonly tf.Tensor[], x: tf.Tensor2D): tf.Tensor4D {
    const { channels, activation } = this.config;
    let h = tf.reshape(x, [x.shape[0], this.side, this.side, channels]) as tf.Tensor4D;
    for (let i = 0; i < this.config.filters.length; i++) {
      const z = tf.add(tf.conv2d(h, p[2 * i] as tf.Tensor4D, 1, 'same'), p[2 * i + 1]!) as tf.Tensor4D;
      h = tf.maxPool(activate4d(activation, z), POOL, POOL, 'valid');
    }
    return h;
  }

  /** Output logits (batch x inputSize, pre-sigmoid) from code feature maps. */
  private decodeLogits(p: readonly tf.Tensor[], code: tf.Tensor4D): tf.Tensor2D {
    const l = this.config.filters.length;
    const n = code.shape[0];
    let h = code;
    let side = this.codeSide;
    for (let j = 0; j < l; j++) {
      side *= POOL;
      const w = p[2 * l + 2 * j] as tf.Tensor4D;
      const out: [number, number, number, number] = [n, side, side, this.depths[l - j - 1]!];
      const z = tf.add(tf.conv2dTranspose(h, w, out, POOL, 'valid'), p[2 * l + 2 * j + 1]!) as tf.Tensor4D;
      h = j === l - 1 ? z : activate4d(this.config.activation, z);
    }
    return tf.reshape(h, [n, this.inputSize]);
  }

  /** Code feature maps from flat codes (count x codeSize, NHWC order). */
  private codeMaps(codes: tf.Tensor2D): tf.Tensor4D {
    const f = this.config.filters[this.config.filters.length - 1]!;
    return tf.reshape(codes, [codes.shape[0], this.codeSide, this.codeSide, f]);
  }

  step(
    params: Float32Array,
    batch: Float32Array,
    batchSize: number,
    _noise: Noise,
    out?: Float32Array,
  ): StepResult {
    return lossAndGrads(
      this.paramSpecs,
      params,
      (p) => {
        const x = matrix(batch, batchSize, this.inputSize);
        const logits = this.decodeLogits(p, this.encodeT(p, x));
        return tf.mean(reconstructionLoss(this.config.loss, logits, x)) as tf.Scalar;
      },
      out,
    );
  }

  encode(params: Float32Array, batch: Float32Array, batchSize: number): Float32Array {
    return withParams(this.paramSpecs, params, (p) =>
      this.encodeT(p, matrix(batch, batchSize, this.inputSize)),
    );
  }

  decode(params: Float32Array, codes: Float32Array, count: number): Float32Array {
    return withParams(this.paramSpecs, params, (p) =>
      tf.sigmoid(this.decodeLogits(p, this.codeMaps(matrix(codes, count, this.codeSize)))),
    );
  }

  reconstruct(params: Float32Array, batch: Float32Array, batchSize: number): Float32Array {
    return withParams(this.paramSpecs, params, (p) =>
      tf.sigmoid(this.decodeLogits(p, this.encodeT(p, matrix(batch, batchSize, this.inputSize)))),
    );
  }

  /** Sum over the batch of the per-image reconstruction loss (the report computes the squared error). */
  evaluate(params: Float32Array, batch: Float32Array, batchSize: number): Record<string, number> {
    return tf.tidy(() => {
      const p = paramTensors(this.paramSpecs, params);
      const x = matrix(batch, batchSize, this.inputSize);
      const logits = this.decodeLogits(p, this.encodeT(p, x));
      return { reconstruction_loss: tf.sum(reconstructionLoss(this.config.loss, logits, x)).dataSync()[0]! };
    });
  }
}

const ACTIVATIONS: readonly ConvActivation[] = ['relu', 'sigmoid', 'tanh'];
const LOSSES: readonly ReconstructionLoss[] = ['mse', 'cross-entropy'];

/** Builds `conv-ae` from (validated) hyperparameters; missing ones take their defaults. */
export function createConvAutoencoder(inputSize: number, values: HyperValues): ConvAutoencoder {
  const h = new HyperReader(CONV_AE_HYPERS, values);
  return new ConvAutoencoder({
    inputSize,
    channels: h.int('channels'),
    filters: h.intList('filters'),
    kernel: h.int('kernel'),
    activation: h.choice('activation', ACTIVATIONS),
    loss: h.choice('loss', LOSSES),
    hyper: h.resolved(),
  });
}
