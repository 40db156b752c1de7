/**
 * The adversarial losses of Goodfellow et al. (2014) and one training step of both networks.
 * D outputs a logit l, read as the probability sigmoid(l) that its input is real, so the
 * cross-entropies are softplus terms on the logits (stable for any logit):
 *
 *   L_D = mean_x softplus(-D(x)) + mean_z softplus(D(G(z)))   (fakes are constants here)
 *   L_G = mean_z softplus(-D(G(z)))                           (D's parameters are constants here)
 *
 * L_G is the non-saturating generator loss (maximise log D(G(z))) the paper recommends over
 * minimising log(1 - D(G(z))), whose gradient vanishes while D rejects the fakes confidently.
 *
 * PyTorch's DCGAN example alternates: it updates D, then computes G's loss with the updated D. We
 * update both simultaneously from the same parameters, so that one all-reduce per step carries both
 * gradients: the flat buffer holds G's parameters then D's, and the step writes each network's
 * gradient into its own slice.
 *
 * GanModel is the Model side every GAN shares (codes z ~ N(0, I), this step, G as the decoder); a
 * GAN model supplies its two networks.
 */
import { tf } from '../compute/tf.js';
import type { Rng } from '../data/rng.js';
import type { Noise } from '../data/sample-noise.js';
import { matrix } from './layers.js';
import { flatLength } from './model.js';
import type { Model, ParamSpec, StepResult } from './model.js';
import { flattenTensors, paramTensors, withParams } from './params.js';

/** A GAN's two networks as functions of their parameter tensors (each in its own specs' order). */
export interface GanNetworks {
  readonly inputSize: number;
  readonly latent: number;
  /** G's parameters, which come first in the flat buffer. */
  readonly generatorSpecs: readonly ParamSpec[];
  /** D's parameters, after G's. */
  readonly discriminatorSpecs: readonly ParamSpec[];
  /** Images (count x inputSize, values in (0, 1)) from latent codes z (count x latent). */
  generateT(g: readonly tf.Tensor[], z: tf.Tensor2D): tf.Tensor2D;
  /** One logit per image of `x` (count x inputSize). */
  discriminateT(d: readonly tf.Tensor[], x: tf.Tensor2D): tf.Tensor1D;
}

/** L_D from D's logits on a real batch and on a fake batch. */
export function discriminatorLoss(realLogits: tf.Tensor1D, fakeLogits: tf.Tensor1D): tf.Scalar {
  return tf.add(tf.mean(tf.softplus(tf.neg(realLogits))), tf.mean(tf.softplus(fakeLogits)));
}

/** The non-saturating L_G from D's logits on a fake batch. */
export function generatorLoss(fakeLogits: tf.Tensor1D): tf.Scalar {
  return tf.mean(tf.softplus(tf.neg(fakeLogits)));
}

/**
 * One simultaneous step on a real batch (batchSize x inputSize) and latent codes `z` (batchSize x
 * latent): loss L_D; grads dL_G/dG in G's slice and dL_D/dD in D's, written into `out` when given;
 * extras d_loss, g_loss, d_real = mean sigmoid(D(x)) and d_fake = mean sigmoid(D(G(z))).
 */
export function ganStep(
  nets: GanNetworks,
  params: Float32Array,
  batch: Float32Array,
  batchSize: number,
  z: Float32Array,
  out?: Float32Array,
): StepResult {
  const gLength = flatLength(nets.generatorSpecs);
  const length = gLength + flatLength(nets.discriminatorSpecs);
  if (params.length !== length) {
    throw new RangeError(`parameter buffer holds ${params.length} values, the GAN ${length}`);
  }
  const grads = out ?? new Float32Array(length);
  // G's images, kept past the gradient scope that makes them: D's step takes them as constants.
  // A clone, because the tape disposes the tensors its kernels saved once the gradients are done.
  let fake: tf.Tensor2D | null = null;
  const extras = { d_loss: 0, g_loss: 0, d_real: 0, d_fake: 0 };
  try {
    // Returns nothing: tidy would walk a returned typed array element by element.
    tf.tidy(() => {
      const g = paramTensors(nets.generatorSpecs, params.subarray(0, gLength));
      const d = paramTensors(nets.discriminatorSpecs, params.subarray(gLength));
      const x = matrix(batch, batchSize, nets.inputSize);
      const codes = matrix(z, batchSize, nets.latent);
      const gStep = tf.valueAndGrads((...gp: tf.Tensor[]) => {
        const images = nets.generateT(gp, codes);
        fake = tf.keep(tf.clone(images));
        return generatorLoss(nets.discriminateT(d, images));
      })(g);
      extras.g_loss = gStep.value.dataSync()[0]!;
      flattenTensors(nets.generatorSpecs, gStep.grads, grads.subarray(0, gLength));
      const dStep = tf.valueAndGrads((...dp: tf.Tensor[]) => {
        // Real and fake batches go through D separately, as in PyTorch's DCGAN example, so that
        // batch normalisation in D uses the statistics of each batch on its own.
        const real = nets.discriminateT(dp, x);
        const faked = nets.discriminateT(dp, fake!);
        extras.d_real = tf.mean(tf.sigmoid(real)).dataSync()[0]!;
        extras.d_fake = tf.mean(tf.sigmoid(faked)).dataSync()[0]!;
        return discriminatorLoss(real, faked);
      })(d);
      extras.d_loss = dStep.value.dataSync()[0]!;
      flattenTensors(nets.discriminatorSpecs, dStep.grads, grads.subarray(gLength));
    });
  } finally {
    (fake as tf.Tensor2D | null)?.dispose();
  }
  return { loss: extras.d_loss, grads, extras };
}

/** G's images (count x inputSize) for latent codes (count x latent), from the flat GAN parameters. */
export function generateImages(
  nets: GanNetworks,
  params: Float32Array,
  codes: Float32Array,
  count: number,
): Float32Array {
  const g = params.subarray(0, flatLength(nets.generatorSpecs));
  return withParams(nets.generatorSpecs, g, (p) => nets.generateT(p, matrix(codes, count, nets.latent)));
}

/**
 * A GAN as a Model, given its networks: parameters G's then D's, codes z ~ N(0, I) of `latent`
 * values, {@link ganStep} as the step, G as `decode` and ancestral sampling through it.
 */
export abstract class GanModel implements Model, GanNetworks {
  abstract readonly kind: string;
  readonly inputSize: number;
  readonly codeSize: number;
  readonly latent: number;
  readonly paramSpecs: readonly ParamSpec[];
  readonly generatorSpecs: readonly ParamSpec[];
  readonly discriminatorSpecs: readonly ParamSpec[];
  readonly hyper: Readonly<Record<string, unknown>>;

  constructor(
    parts: Pick<GanNetworks, 'inputSize' | 'latent' | 'generatorSpecs' | 'discriminatorSpecs'> & {
      readonly hyper: Readonly<Record<string, unknown>>;
    },
  ) {
    this.inputSize = parts.inputSize;
    this.latent = parts.latent;
    this.codeSize = parts.latent;
    this.hyper = parts.hyper;
    this.generatorSpecs = parts.generatorSpecs;
    this.discriminatorSpecs = parts.discriminatorSpecs;
    this.paramSpecs = [...parts.generatorSpecs, ...parts.discriminatorSpecs];
  }

  abstract init(rng: Rng): Float32Array;
  abstract generateT(g: readonly tf.Tensor[], z: tf.Tensor2D): tf.Tensor2D;
  abstract discriminateT(d: readonly tf.Tensor[], x: tf.Tensor2D): tf.Tensor1D;

  /** Codes from the prior, z ~ N(0, I): count x latent, a row of `noise` per code (in a step: per image). */
  priorCodes(count: number, noise: Noise): Float32Array {
    return noise.fillNormal(new Float32Array(count * this.latent));
  }

  step(
    params: Float32Array,
    batch: Float32Array,
    batchSize: number,
    noise: Noise,
    out?: Float32Array,
  ): StepResult {
    return ganStep(this, params, batch, batchSize, this.priorCodes(batchSize, noise), out);
  }

  /** G(codes): images in (0, 1) for latent codes (count x latent). */
  decode(params: Float32Array, codes: Float32Array, count: number): Float32Array {
    return generateImages(this, params, codes, count);
  }

  /** G(z) for `count` codes z ~ N(0, I) drawn from `rng`. */
  sample(params: Float32Array, count: number, rng: Rng): Float32Array {
    return this.decode(params, this.priorCodes(count, rng), count);
  }
}
