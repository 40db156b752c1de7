/** The models the CLI can name, with their hyperparameters and training defaults. */
import { ConfigError } from '../errors.js';
import {
  AE_HYPERS,
  CONTRACTIVE_AE_HYPERS,
  DENOISING_AE_HYPERS,
  SPARSE_AE_HYPERS,
  createAutoencoder,
} from './autoencoder.js';
import { CONV_AE_HYPERS, createConvAutoencoder } from './conv-autoencoder.js';
import { DBN_HYPERS, createDbn } from './dbn.js';
import { DCGAN_HYPERS, createDcgan } from './dcgan.js';
import { DEEP_AE_HYPERS, createDeepAutoencoder } from './deep-autoencoder.js';
import { GAN_HYPERS, createGan } from './gan.js';
import type { ModelEntry, TrainingDefaults } from './hyper.js';
import { RBM_HYPERS, createRbm } from './rbm.js';
import { SEQ2SEQ_AE_HYPERS, createSeq2SeqAutoencoder } from './seq2seq-autoencoder.js';
import { STACKED_AE_HYPERS, createStackedAutoencoder } from './stacked-autoencoder.js';
import { VAE_HYPERS, createVae } from './vae.js';

const ADAM: TrainingDefaults = {
  optimizer: 'adam',
  lr: 1e-3,
  momentum: 0,
  finalMomentum: 0,
  momentumSwitchEpoch: 0,
};

/** Hinton's guide: learning rate 0.1 on CD statistics, momentum 0.5 rising to 0.9 after 5 epochs. */
const RBM_SGD: TrainingDefaults = {
  optimizer: 'sgd',
  lr: 0.1,
  momentum: 0.5,
  finalMomentum: 0.9,
  momentumSwitchEpoch: 5,
};

/** Radford et al. 2016 (DCGAN): Adam at 2e-4 with beta1 0.5, for both networks. */
const GAN_ADAM: TrainingDefaults = { ...ADAM, lr: 2e-4, beta1: 0.5 };

/** Every model kind, in the order `harmonium models` lists them. */
export const MODEL_ENTRIES: readonly ModelEntry[] = [
  {
    kind: 'ae',
    summary:
      'autoencoder; loss mean_x sum_i BCE(x_i, sigmoid(dec(enc(x)))_i) (or squared error with --loss mse)',
    hypers: AE_HYPERS,
    training: ADAM,
    create: (inputSize, hyper) => createAutoencoder('ae', inputSize, hyper),
  },
  {
    kind: 'sparse-ae',
    summary: 'sparse autoencoder; loss = ae reconstruction + lambda * mean_x sum_j |h_j(x)| (L1 on the code)',
    hypers: SPARSE_AE_HYPERS,
    training: ADAM,
    create: (inputSize, hyper) => createAutoencoder('sparse-ae', inputSize, hyper),
  },
  {
    kind: 'denoising-ae',
    summary: 'denoising autoencoder; loss = ae reconstruction of the clean x from enc(corrupt(x))',
    hypers: DENOISING_AE_HYPERS,
    training: ADAM,
    create: (inputSize, hyper) => createAutoencoder('denoising-ae', inputSize, hyper),
  },
  {
    kind: 'contractive-ae',
    summary:
      'contractive autoencoder (one sigmoid layer); loss = ae reconstruction + lambda * mean_x ||dh/dx||_F^2',
    hypers: CONTRACTIVE_AE_HYPERS,
    training: ADAM,
    create: (inputSize, hyper) => createAutoencoder('contractive-ae', inputSize, hyper),
  },
  {
    kind: 'conv-ae',
    summary:
      'convolutional autoencoder (conv, activation, 2x2 max-pool per layer; 2x2 stride-2 transposed convs back); loss mean_x sum_i (sigmoid(dec(enc(x)))_i - x_i)^2 (or BCE with --loss cross-entropy)',
    hypers: CONV_AE_HYPERS,
    training: ADAM,
    create: createConvAutoencoder,
  },
  {
    kind: 'seq2seq-ae',
    summary:
      'sequence-to-sequence LSTM autoencoder (image rows as steps; encoder last h -> linear code; decoder LSTM fed the code each step, h0/c0 = tanh(dense(code)), dense + sigmoid per row); loss mean_x sum_i BCE(x_i, x^_i) (or squared error with --loss mse)',
    hypers: SEQ2SEQ_AE_HYPERS,
    training: ADAM,
    create: createSeq2SeqAutoencoder,
  },
  {
    kind: 'stacked-ae',
    summary:
      'stacked autoencoder by greedy layer-wise pretraining, one phase per layer (the others frozen); phase i loss mean_x sum_j BCE(h_{i-1}(x)_j, sigmoid(dec_i(enc_i(mask(h_{i-1}(x)))))_j) (squared error with --loss mse or relu/tanh codes); --noise masks each layer input (stacked denoising)',
    hypers: STACKED_AE_HYPERS,
    training: ADAM,
    create: createStackedAutoencoder,
  },
  {
    kind: 'deep-ae',
    summary:
      'deep autoencoder of Hinton & Salakhutdinov 2006: RBM stack pretrained by CD-1 (linear code layer), unrolled, fine-tuned by backprop (--pretrain none: random init)',
    hypers: DEEP_AE_HYPERS,
    training: ADAM,
    create: createDeepAutoencoder,
  },
  {
    kind: 'vae',
    summary:
      'variational autoencoder; loss = -ELBO = E_q[-log p(x|z)] + KL(q(z|x) || N(0, I)) in nats per image',
    hypers: VAE_HYPERS,
    training: ADAM,
    create: createVae,
  },
  {
    kind: 'rbm',
    summary:
      'Bernoulli-Bernoulli RBM trained by CD-k/PCD; update -(<vh>data - <vh>model) + decay * W, loss = reconstruction SSE',
    hypers: RBM_HYPERS,
    training: RBM_SGD,
    create: createRbm,
  },
  {
    kind: 'dbn',
    summary:
      'deep belief net: greedy stack of Bernoulli RBMs, each trained by CD-k on the hidden probabilities below; samples from the top-level Gibbs chain',
    hypers: DBN_HYPERS,
    training: RBM_SGD,
    create: createDbn,
  },
  {
    kind: 'gan',
    summary:
      'GAN with MLP generator and discriminator; L_D = BCE(real, 1) + BCE(fake, 0), non-saturating L_G = BCE(D(G(z)), 1); both gradients in one step',
    hypers: GAN_HYPERS,
    training: GAN_ADAM,
    create: createGan,
  },
  {
    kind: 'dcgan',
    summary:
      'DCGAN: strided (transposed) convolutions with batch norm, ReLU in G and LeakyReLU in D; the GAN losses',
    hypers: DCGAN_HYPERS,
    training: GAN_ADAM,
    create: createDcgan,
  },
];

/** The entry for `kind`; a ConfigError on field `model` that lists the known kinds otherwise. */
export function findModel(kind: string): ModelEntry {
  const entry = MODEL_ENTRIES.find((e) => e.kind === kind);
  if (!entry) {
    throw new ConfigError(
      'model',
      `unknown model "${kind}"; known: ${MODEL_ENTRIES.map((e) => e.kind).join(', ')}`,
    );
  }
  return entry;
}
