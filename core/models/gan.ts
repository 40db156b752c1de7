/**
 * The generative adversarial network of Goodfellow et al. (2014) with multilayer perceptrons
 * (`gan`): G maps z ~ N(0, I) through ReLU layers to sigmoid pixels (the data are in [0, 1]); D maps
 * an image through LeakyReLU(0.2) layers to one logit. Losses and the simultaneous update of both
 * networks are in gan-loss.ts: loss L_D, the non-saturating L_G reported as `g_loss`.
 *
 * The flat parameters are G's then D's: g.fc0.w, g.fc0.b, ..., then d.fc0.w, d.fc0.b, ..., the last
 * of each producing the image logits and the one real/fake logit.
 */
import { tf } from '../compute/tf.js';
import type { Rng } from '../data/rng.js';
import { GanModel } from './gan-loss.js';
import type { HyperValues } from './hyper.js';
import { HyperReader } from './hyper-values.js';
import { dense, glorotInit, leakyRelu } from './layers.js';
import { GAN_HYPERS } from './model-catalogue.js';
import type { ParamSpec } from './model.js';

/** Everything that defines an MLP GAN, after hyperparameters have been read. */
export interface GanConfig {
  readonly inputSize: number;
  readonly latent: number;
  /** G's hidden layer sizes, from z towards the image. */
  readonly generatorLayers: readonly number[];
  /** D's hidden layer sizes, from the image towards the logit. */
  readonly discriminatorLayers: readonly number[];
  readonly hyper: Readonly<Record<string, unknown>>;
}

/** Dense layer specs named `${prefix}fc${i}.w` / `.b` through `sizes`. */
function denseSpecs(prefix: string, sizes: readonly number[]): ParamSpec[] {
  const specs: ParamSpec[] = [];
  for (let i = 0; i + 1 < sizes.length; i++) {
    specs.push({ name: `${prefix}fc${i}.w`, shape: [sizes[i]!, sizes[i + 1]!] });
    specs.push({ name: `${prefix}fc${i}.b`, shape: [sizes[i + 1]!] });
  }
  return specs;
}

/** A GAN whose generator and discriminator are multilayer perceptrons. */
export class Gan extends GanModel {
  readonly kind = 'gan';

  constructor(config: GanConfig) {
    super({
      inputSize: config.inputSize,
      latent: config.latent,
      generatorSpecs: denseSpecs('g.', [config.latent, ...config.generatorLayers, config.inputSize]),
      discriminatorSpecs: denseSpecs('d.', [config.inputSize, ...config.discriminatorLayers, 1]),
      hyper: config.hyper,
    });
  }

  /** Glorot-uniform weights, zero biases. */
  override init(rng: Rng): Float32Array {
    return glorotInit(this.paramSpecs, rng);
  }

  override generateT(g: readonly tf.Tensor[], z: tf.Tensor2D): tf.Tensor2D {
    const layers = g.length / 2;
    let h = z;
    for (let i = 0; i < layers; i++) {
      const a = dense(h, g[2 * i] as tf.Tensor2D, g[2 * i + 1] as tf.Tensor1D);
      h = i === layers - 1 ? tf.sigmoid(a) : tf.relu(a);
    }
    return h;
  }

  override discriminateT(d: readonly tf.Tensor[], x: tf.Tensor2D): tf.Tensor1D {
    const layers = d.length / 2;
    let h = x;
    for (let i = 0; i < layers; i++) {
      const a = dense(h, d[2 * i] as tf.Tensor2D, d[2 * i + 1] as tf.Tensor1D);
      h = i === layers - 1 ? a : leakyRelu(a);
    }
    return tf.reshape(h, [x.shape[0]]);
  }
}

/** Builds `gan` from (validated) hyperparameters; missing ones take their defaults. */
export function createGan(inputSize: number, values: HyperValues): Gan {
  const h = new HyperReader(GAN_HYPERS, values);
  return new Gan({
    inputSize,
    latent: h.int('latent'),
    generatorLayers: h.intList('g-layers'),
    discriminatorLayers: h.intList('d-layers'),
    hyper: h.resolved(),
  });
}
