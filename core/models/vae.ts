/**
 * Variational autoencoder (Kingma and Welling): a Gaussian encoder q(z|x) = N(mu, diag(exp(logvar))),
 * a standard-normal prior and a Bernoulli or fixed-variance Gaussian decoder. The loss is the
 * negative ELBO per image in nats, averaged over the batch, with one reparameterised sample
 * z = mu + exp(logvar / 2) * eps whose eps comes from the step's noise.
 */
import { tf } from '../compute/tf.js';
import type { Rng } from '../data/rng.js';
import type { Noise } from '../data/sample-noise.js';
import type { HyperValues } from './hyper.js';
import { HyperReader } from './hyper-values.js';
import { activate, bernoulliNll, dense, glorotInit, matrix, sumSquares } from './layers.js';
import type { Activation } from './layers.js';
import { GAUSSIAN_DECODER_STD, VAE_HYPERS } from './model-catalogue.js';
import { denseLayerValues } from './model.js';
import type { DenseLayerValues, Model, ParamSpec, StepResult } from './model.js';
import { lossAndGrads, paramTensors, withParams } from './params.js';

/** p(x|z): Bernoulli with sigmoid means, or Gaussian with sigmoid mean and fixed std. */
export type VaeDecoder = 'bernoulli' | 'gaussian';

const LOG_2PI = Math.log(2 * Math.PI);

/** Everything that defines a VAE, after hyperparameters have been read. */
export interface VaeConfig {
  readonly inputSize: number;
  /** Encoder hidden sizes; the decoder mirrors them. */
  readonly layers: readonly number[];
  readonly latent: number;
  readonly activation: Activation;
  readonly decoder: VaeDecoder;
  readonly hyper: Readonly<Record<string, unknown>>;
}

/** The per-image terms of the negative ELBO, as tensors of shape [batch]. */
interface ElboTerms {
  readonly reconstruction: tf.Tensor1D;
  readonly kl: tf.Tensor1D;
}

/**
 * Flat parameters: enc0.w, enc0.b, ..., mu.w, mu.b, logvar.w, logvar.b, dec0.w, dec0.b, ...,
 * where the last decoder layer produces the output logits.
 */
export class Vae implements Model {
  readonly kind = 'vae';
  readonly inputSize: number;
  readonly codeSize: number;
  readonly paramSpecs: readonly ParamSpec[];
  readonly hyper: Readonly<Record<string, unknown>>;
  private readonly hidden: number;

  constructor(private readonly config: VaeConfig) {
    this.inputSize = config.inputSize;
    this.codeSize = config.latent;
    this.hyper = config.hyper;
    this.hidden = config.layers.length;
    const enc = [config.inputSize, ...config.layers];
    const dec = [config.latent, ...[...config.layers].reverse(), config.inputSize];
    const top = enc[enc.length - 1]!;
    const specs: ParamSpec[] = [];
    for (let i = 0; i < this.hidden; i++) {
      specs.push({ name: `enc${i}.w`, shape: [enc[i]!, enc[i + 1]!] });
      specs.push({ name: `enc${i}.b`, shape: [enc[i + 1]!] });
    }
    specs.push({ name: 'mu.w', shape: [top, config.latent] }, { name: 'mu.b', shape: [config.latent] });
    specs.push(
      { name: 'logvar.w', shape: [top, config.latent] },
      { name: 'logvar.b', shape: [config.latent] },
    );
    for (let j = 0; j + 1 < dec.length; j++) {
      specs.push({ name: `dec${j}.w`, shape: [dec[j]!, dec[j + 1]!] });
      specs.push({ name: `dec${j}.b`, shape: [dec[j + 1]!] });
    }
    this.paramSpecs = specs;
  }

  init(rng: Rng): Float32Array {
    return glorotInit(this.paramSpecs, rng);
  }

  /** mu and logvar of q(z|x). */
  private encodeT(p: readonly tf.Tensor[], x: tf.Tensor2D): { mu: tf.Tensor2D; logvar: tf.Tensor2D } {
    let h = x;
    for (let i = 0; i < this.hidden; i++) {
      h = activate(this.config.activation, dense(h, p[2 * i] as tf.Tensor2D, p[2 * i + 1] as tf.Tensor1D));
    }
    const k = 2 * this.hidden;
    return {
      mu: dense(h, p[k] as tf.Tensor2D, p[k + 1] as tf.Tensor1D),
      logvar: dense(h, p[k + 2] as tf.Tensor2D, p[k + 3] as tf.Tensor1D),
    };
  }

  /** Output logits from latent codes. */
  private decodeLogits(p: readonly tf.Tensor[], z: tf.Tensor2D): tf.Tensor2D {
    const first = 2 * this.hidden + 4;
    let h = z;
    for (let j = 0; j <= this.hidden; j++) {
      const a = dense(h, p[first + 2 * j] as tf.Tensor2D, p[first + 2 * j + 1] as tf.Tensor1D);
      h = j === this.hidden ? a : activate(this.config.activation, a);
    }
    return h;
  }

  /** Negative log-likelihood per image in nats, including the Gaussian's normalising constant. */
  private reconstructionNll(logits: tf.Tensor2D, x: tf.Tensor2D): tf.Tensor1D {
    if (this.config.decoder === 'bernoulli') return bernoulliNll(logits, x);
    const s2 = GAUSSIAN_DECODER_STD * GAUSSIAN_DECODER_STD;
    const constant = 0.5 * this.inputSize * (LOG_2PI + Math.log(s2));
    return tf.add(tf.div(sumSquares(tf.sigmoid(logits), x), 2 * s2), constant);
  }

  /** The ELBO terms for a batch with the reparameterisation noise `eps` (batch x latent). */
  private elbo(p: readonly tf.Tensor[], x: tf.Tensor2D, eps: tf.Tensor2D): ElboTerms {
    const { mu, logvar } = this.encodeT(p, x);
    const z: tf.Tensor2D = tf.add(mu, tf.mul(tf.exp(tf.mul(0.5, logvar)), eps));
    // KL(N(mu, sigma^2) || N(0, 1)) summed over latents, in closed form.
    const kl: tf.Tensor1D = tf.mul(
      -0.5,
      tf.sum(tf.sub(tf.add(1, logvar), tf.add(tf.square(mu), tf.exp(logvar))), 1),
    );
    return { reconstruction: this.reconstructionNll(this.decodeLogits(p, z), x), kl };
  }

  /** `count` rows of `latent` standard normals. */
  private drawEps(noise: Noise, count: number): Float32Array {
    return noise.fillNormal(new Float32Array(count * this.config.latent));
  }

  step(
    params: Float32Array,
    batch: Float32Array,
    batchSize: number,
    noise: Noise,
    out?: Float32Array,
  ): StepResult {
    const eps = this.drawEps(noise, batchSize);
    const r = lossAndGrads(
      this.paramSpecs,
      params,
      (p, report) => {
        const t = this.elbo(
          p,
          matrix(batch, batchSize, this.inputSize),
          matrix(eps, batchSize, this.config.latent),
        );
        const recon = tf.mean(t.reconstruction) as tf.Scalar;
        const kl = tf.mean(t.kl) as tf.Scalar;
        report('reconstruction', recon);
        report('kl', kl);
        return tf.add(recon, kl);
      },
      out,
    );
    return { loss: r.loss, grads: r.grads, extras: r.extras };
  }

  /** The posterior means mu(x). */
  /** The encoder's dense layers up to the mean of q(z|x), the code `encode` gives. */
  encoderLayers(params: Float32Array): DenseLayerValues[] {
    return [
      ...Array.from({ length: this.hidden }, (_, i) =>
        denseLayerValues(this.paramSpecs, params, `enc${i}.w`, `enc${i}.b`, this.config.activation),
      ),
      denseLayerValues(this.paramSpecs, params, 'mu.w', 'mu.b', 'linear'),
    ];
  }

  /** Codes from the prior N(0, I): count x latent. */
  priorCodes(count: number, rng: Rng): Float32Array {
    return rng.fillNormal(new Float32Array(count * this.codeSize));
  }

  encode(params: Float32Array, batch: Float32Array, batchSize: number): Float32Array {
    return withParams(
      this.paramSpecs,
      params,
      (p) => this.encodeT(p, matrix(batch, batchSize, this.inputSize)).mu,
    );
  }

  /** Decoder means (pixel probabilities, or the Gaussian's mean) for latent codes. */
  decode(params: Float32Array, codes: Float32Array, count: number): Float32Array {
    return withParams(this.paramSpecs, params, (p) =>
      tf.sigmoid(this.decodeLogits(p, matrix(codes, count, this.config.latent))),
    );
  }

  reconstruct(params: Float32Array, batch: Float32Array, batchSize: number): Float32Array {
    return withParams(this.paramSpecs, params, (p) =>
      tf.sigmoid(this.decodeLogits(p, this.encodeT(p, matrix(batch, batchSize, this.inputSize)).mu)),
    );
  }

  /** Decoder means for `count` codes drawn from the prior N(0, I). */
  sample(params: Float32Array, count: number, rng: Rng): Float32Array {
    return this.decode(params, this.drawEps(rng, count), count);
  }

  /** Sums over the batch of the negative ELBO and its two terms (one eps sample per image). */
  evaluate(params: Float32Array, batch: Float32Array, batchSize: number, rng: Rng): Record<string, number> {
    const eps = this.drawEps(rng, batchSize);
    return tf.tidy(() => {
      const p = paramTensors(this.paramSpecs, params);
      const t = this.elbo(
        p,
        matrix(batch, batchSize, this.inputSize),
        matrix(eps, batchSize, this.config.latent),
      );
      const reconstruction = tf.sum(t.reconstruction).dataSync()[0]!;
      const kl = tf.sum(t.kl).dataSync()[0]!;
      return { neg_elbo_nats: reconstruction + kl, kl_nats: kl, reconstruction_nats: reconstruction };
    });
  }
}

/** Builds a VAE from (validated) hyperparameters; missing ones take their defaults. */
export function createVae(inputSize: number, values: HyperValues): Vae {
  const h = new HyperReader(VAE_HYPERS, values);
  return new Vae({
    inputSize,
    layers: h.intList('layers'),
    latent: h.int('latent'),
    activation: h.choice('activation', ['relu', 'tanh', 'sigmoid'] as const),
    decoder: h.choice('decoder', ['bernoulli', 'gaussian'] as const),
    hyper: h.resolved(),
  });
}
