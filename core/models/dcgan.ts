/**
 * The deep convolutional GAN of Radford, Metz and Chintala (2015) (`dcgan`), sized for small images
 * (side s divisible by 4, e.g. 28 -> 14 -> 7) with f filters and k x k kernels:
 *
 *   G: z -> dense (s/4)(s/4)(2f), BN, ReLU -> transposed conv stride 2 to (s/2)(s/2) f, BN, ReLU
 *      -> transposed conv stride 2 to s s channels, sigmoid (the data are in [0, 1])
 *   D: conv stride 2 to f channels, LeakyReLU 0.2 (no BN on D's first layer, as in the paper)
 *      -> conv stride 2 to 2f, BN, LeakyReLU 0.2 -> dense to one logit
 *
 * Convolutions use 'same' padding: with the default k = 4 they are PyTorch's DCGAN layers
 * (kernel 4, stride 2, padding 1). Layers followed by batch norm have no bias (its beta is one).
 * Images are NHWC. Losses and the simultaneous update of G and D are in gan-loss.ts.
 *
 * Batch norm always uses the statistics of the batch it is computed on (batch-norm.ts): real and
 * fake batches through D separately, and when training on several ranks each rank normalises over
 * its own part of the batch, as PyTorch's DistributedDataParallel does without SyncBatchNorm.
 * `sample` and `decode` normalise with the statistics of the generated batch, as PyTorch's DCGAN
 * example does (it never switches G to eval mode), so an image depends on the rest of its batch.
 */
import { tf } from '../compute/tf.js';
import type { Rng } from '../data/rng.js';
import { ConfigError } from '../errors.js';
import { batchNorm } from './batch-norm.js';
import { GanModel } from './gan-loss.js';
import type { HyperValues } from './hyper.js';
import { HyperReader } from './hyper-values.js';
import { dense, leakyRelu } from './layers.js';
import { DCGAN_HYPERS } from './model-catalogue.js';
import { flatLength, paramOffsets } from './model.js';

/** Everything that defines a DCGAN, after hyperparameters have been read. */
export interface DcganConfig {
  readonly inputSize: number;
  /** Image channels; the image is side x side x channels with side inferred from inputSize. */
  readonly channels: number;
  readonly latent: number;
  /** f: channels of G's last hidden layer and D's first; the layers next to the dense ones have 2f. */
  readonly filters: number;
  /** Side of every convolution kernel. */
  readonly kernel: number;
  readonly hyper: Readonly<Record<string, unknown>>;
}

/** Std of the N(0, std) the paper draws every weight from (and BN's gamma from N(1, std)). */
export const DCGAN_INIT_STD = 0.02;

/** The side of the square image behind `inputSize` values; a ConfigError unless it is a multiple of 4. */
export function dcganSide(inputSize: number, channels: number): number {
  const pixels = inputSize / channels;
  const side = Math.round(Math.sqrt(pixels));
  if (!Number.isInteger(pixels) || side * side !== pixels) {
    throw new ConfigError(
      'channels',
      `dcgan needs square images of side x side x channels values: ${inputSize} values per image is not ` +
        `${channels} x side^2 for any integer side (give --channels for colour images)`,
    );
  }
  if (side % 4 !== 0) {
    throw new ConfigError(
      'model',
      `dcgan halves the image side twice with stride-2 convolutions: side ${side} is not divisible by 4`,
    );
  }
  return side;
}

/** A DCGAN; parameter names and shapes are listed in the constructor. */
export class Dcgan extends GanModel {
  readonly kind = 'dcgan';
  /** Image side. */
  readonly side: number;

  constructor(private readonly config: DcganConfig) {
    const { inputSize, channels, latent, filters: f, kernel: k } = config;
    const side = dcganSide(inputSize, channels);
    const q = side / 4;
    super({
      inputSize,
      latent,
      // Transposed-convolution kernels are [k, k, out, in], the layout tf.conv2dTranspose takes.
      generatorSpecs: [
        { name: 'g.fc.w', shape: [latent, q * q * 2 * f] },
        { name: 'g.bn0.gamma', shape: [2 * f] },
        { name: 'g.bn0.beta', shape: [2 * f] },
        { name: 'g.deconv1.w', shape: [k, k, f, 2 * f] },
        { name: 'g.bn1.gamma', shape: [f] },
        { name: 'g.bn1.beta', shape: [f] },
        { name: 'g.deconv2.w', shape: [k, k, channels, f] },
        { name: 'g.deconv2.b', shape: [channels] },
      ],
      discriminatorSpecs: [
        { name: 'd.conv0.w', shape: [k, k, channels, f] },
        { name: 'd.conv0.b', shape: [f] },
        { name: 'd.conv1.w', shape: [k, k, f, 2 * f] },
        { name: 'd.bn1.gamma', shape: [2 * f] },
        { name: 'd.bn1.beta', shape: [2 * f] },
        { name: 'd.fc.w', shape: [q * q * 2 * f, 1] },
        { name: 'd.fc.b', shape: [1] },
      ],
      hyper: config.hyper,
    });
    this.side = side;
  }

  /** The paper's initialisation: weights N(0, 0.02), BN gamma N(1, 0.02); betas and biases zero. */
  override init(rng: Rng): Float32Array {
    const flat = new Float32Array(flatLength(this.paramSpecs));
    const offsets = paramOffsets(this.paramSpecs);
    for (const s of this.paramSpecs) {
      const { offset, size } = offsets.get(s.name)!;
      const values = flat.subarray(offset, offset + size);
      if (s.name.endsWith('.w')) rng.fillNormal(values, 0, DCGAN_INIT_STD);
      else if (s.name.endsWith('.gamma')) rng.fillNormal(values, 1, DCGAN_INIT_STD);
    }
    return flat;
  }

  override generateT(g: readonly tf.Tensor[], z: tf.Tensor2D): tf.Tensor2D {
    const { filters: f, channels } = this.config;
    const n = z.shape[0];
    const q = this.side / 4;
    const [fc, gamma0, beta0, w1, gamma1, beta1, w2, b2] = g as [
      tf.Tensor2D,
      tf.Tensor1D,
      tf.Tensor1D,
      tf.Tensor4D,
      tf.Tensor1D,
      tf.Tensor1D,
      tf.Tensor4D,
      tf.Tensor1D,
    ];
    const h0 = tf.reshape(tf.matMul(z, fc), [n, q, q, 2 * f]) as tf.Tensor4D;
    const a0 = tf.relu(batchNorm(h0, gamma0, beta0));
    const h1 = tf.conv2dTranspose(a0, w1, [n, 2 * q, 2 * q, f], 2, 'same');
    const a1 = tf.relu(batchNorm(h1, gamma1, beta1));
    const h2 = tf.add(tf.conv2dTranspose(a1, w2, [n, this.side, this.side, channels], 2, 'same'), b2);
    return tf.reshape(tf.sigmoid(h2), [n, this.inputSize]);
  }

  override discriminateT(d: readonly tf.Tensor[], x: tf.Tensor2D): tf.Tensor1D {
    const { channels } = this.config;
    const n = x.shape[0];
    const [w0, b0, w1, gamma1, beta1, fc, fcb] = d as [
      tf.Tensor4D,
      tf.Tensor1D,
      tf.Tensor4D,
      tf.Tensor1D,
      tf.Tensor1D,
      tf.Tensor2D,
      tf.Tensor1D,
    ];
    const image = tf.reshape(x, [n, this.side, this.side, channels]) as tf.Tensor4D;
    const a0 = leakyRelu(tf.add(tf.conv2d(image, w0, 2, 'same'), b0) as tf.Tensor4D);
    const a1 = leakyRelu(batchNorm(tf.conv2d(a0, w1, 2, 'same'), gamma1, beta1));
    const flat = tf.reshape(a1, [n, fc.shape[0]]) as tf.Tensor2D;
    return tf.reshape(dense(flat, fc, fcb), [n]);
  }
}

/** Builds `dcgan` from (validated) hyperparameters; missing ones take their defaults. */
export function createDcgan(inputSize: number, values: HyperValues): Dcgan {
  const h = new HyperReader(DCGAN_HYPERS, values);
  return new Dcgan({
    inputSize,
    channels: h.int('channels'),
    latent: h.int('latent'),
    filters: h.int('filters'),
    kernel: h.int('kernel'),
    hyper: h.resolved(),
  });
}
