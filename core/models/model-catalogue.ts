/**
 * Every model kind as the config layer sees it: summary, hyperparameter specs and training
 * defaults, without the code that builds the model. Kept apart from the model files, which load
 * TensorFlow.js, so that the coordinator can validate a submitted job without loading it;
 * registry.ts pairs each description with its `create`.
 */
import { ConfigError } from '../errors.js';
import type { HyperSpec, ModelDescription, TrainingDefaults } from './hyper.js';
import { LEAKY_SLOPE, type Activation } from './activation.js';

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

/** The most units a dense layer may have. */
const MAX_UNITS = 65536;

/** The autoencoder kinds' `layers`, which differ only in default and doc. */
function layersSpec(defaultLayers: readonly number[], doc: string): HyperSpec {
  return { name: 'layers', type: 'int-list', default: defaultLayers, min: 1, max: MAX_UNITS, doc };
}

const TIED: HyperSpec = {
  name: 'tied',
  type: 'bool',
  default: false,
  doc: 'decoder weights are the transposed encoder weights (the decoder learns only biases)',
};

const LOSS: HyperSpec = {
  name: 'loss',
  type: 'enum',
  default: 'cross-entropy',
  values: ['cross-entropy', 'mse'],
  doc: 'reconstruction loss per image, summed over pixels: sigmoid output with Bernoulli cross-entropy, or squared error',
};

/** `activation` and `code-activation` of the autoencoder kinds that offer both. */
function activationSpecs(codeDefault: Activation): HyperSpec[] {
  return [
    {
      name: 'activation',
      type: 'enum',
      default: 'sigmoid',
      values: ['sigmoid', 'relu', 'tanh'],
      doc: 'nonlinearity of the hidden layers (not the code, not the sigmoid output)',
    },
    {
      name: 'code-activation',
      type: 'enum',
      default: codeDefault,
      values: ['linear', 'sigmoid', 'relu', 'tanh'],
      doc: "nonlinearity of the code layer (linear: Hinton and Salakhutdinov's Gaussian-linear code)",
    },
  ];
}

/** Hyperparameters of `ae`. */
export const AE_HYPERS: readonly HyperSpec[] = [
  layersSpec(
    [256, 64],
    'encoder layer sizes, the last is the code; the decoder mirrors them (e.g. 1000,500,250,30)',
  ),
  ...activationSpecs('linear'),
  TIED,
  LOSS,
];

/** Hyperparameters of `sparse-ae`: an overcomplete ReLU code by default. */
export const SPARSE_AE_HYPERS: readonly HyperSpec[] = [
  layersSpec([1000], 'encoder layer sizes, the last is the code (may be larger than the input)'),
  ...activationSpecs('relu'),
  TIED,
  LOSS,
  {
    name: 'sparsity',
    type: 'float',
    default: 1e-3,
    min: 0,
    max: 100,
    doc: 'lambda of the L1 penalty lambda * sum_j |h_j| on the code',
  },
];

/** Hyperparameters of `denoising-ae`. */
export const DENOISING_AE_HYPERS: readonly HyperSpec[] = [
  ...AE_HYPERS,
  {
    name: 'noise',
    type: 'enum',
    default: 'masking',
    values: ['masking', 'gaussian'],
    doc: 'input corruption: zero a random fraction of pixels, or add Gaussian noise; the target stays clean',
  },
  {
    name: 'noise-rate',
    type: 'float',
    default: 0.25,
    min: 0,
    max: 1,
    doc: 'masking: fraction of pixels zeroed; gaussian: noise standard deviation',
  },
];

/** Hyperparameters of `contractive-ae`: one sigmoid encoder layer. */
export const CONTRACTIVE_AE_HYPERS: readonly HyperSpec[] = [
  layersSpec([1000], 'size of the single sigmoid encoder layer (one value)'),
  TIED,
  LOSS,
  {
    name: 'contraction',
    type: 'float',
    default: 0.1,
    min: 0,
    max: 100,
    doc: 'lambda of the penalty lambda * ||J_h(x)||_F^2 on the encoder Jacobian',
  },
];

/** Hyperparameters of `conv-ae`; the defaults are the PyTorch reference in conv-autoencoder.ts. */
export const CONV_AE_HYPERS: readonly HyperSpec[] = [
  {
    name: 'filters',
    type: 'int-list',
    default: [16, 8],
    min: 1,
    max: 1024,
    doc: 'channels of each encoder convolution, each followed by a 2x2 max-pool; the last sets the code (side/2^n)^2 * last',
  },
  {
    name: 'kernel',
    type: 'int',
    default: 3,
    min: 1,
    max: 15,
    doc: "side of the encoder convolution kernels (odd; 'same' padding); the decoder uses 2x2 stride-2 transposed convolutions",
  },
  {
    name: 'channels',
    type: 'int',
    default: 1,
    min: 1,
    max: 4,
    doc: 'image channels (3 for RGB); the image must be square: side * side * channels values',
  },
  {
    name: 'activation',
    type: 'enum',
    default: 'relu',
    values: ['relu', 'sigmoid', 'tanh'],
    doc: 'nonlinearity after each encoder convolution and each decoder layer but the sigmoid output',
  },
  {
    name: 'loss',
    type: 'enum',
    default: 'mse',
    values: ['mse', 'cross-entropy'],
    doc: 'reconstruction loss per image, summed over pixels: squared error of the sigmoid output, or Bernoulli cross-entropy',
  },
];

/** Hyperparameters of `seq2seq-ae`. */
export const SEQ2SEQ_AE_HYPERS: readonly HyperSpec[] = [
  {
    name: 'hidden',
    type: 'int',
    default: 128,
    min: 1,
    max: 4096,
    doc: 'LSTM units of the encoder and of the decoder',
  },
  {
    name: 'code',
    type: 'int',
    default: 32,
    min: 1,
    max: 4096,
    doc: "size of the linear code (a dense map of the encoder's last hidden state); the decoder reads it at every step",
  },
  {
    name: 'channels',
    type: 'int',
    default: 1,
    min: 1,
    max: 4,
    doc: 'image channels (3 for RGB); the image must be square, read as side rows of side * channels values',
  },
  {
    name: 'loss',
    type: 'enum',
    default: 'cross-entropy',
    values: ['cross-entropy', 'mse'],
    doc: 'reconstruction loss per image, summed over pixels: sigmoid output with Bernoulli cross-entropy, or squared error',
  },
];

/**
 * Hyperparameters of `stacked-ae`. Default sizes and code measured on Fashion-MNIST (2 epochs per
 * phase, Adam lr 1e-3, batch 100; linear probe on 100 labels per class, 10k test images):
 * 784-500-250-30 with a linear code, squared error 12.1 per test image and probe 79.5%; with a
 * sigmoid code 18.3 and 78.5%; 784-1000-500-250-30 (linear code) 12.2 and 79.9% for 2.7x the
 * pretraining time (native, 1 thread: 40 against 15 ms of steps summed over the phases). The
 * probe on raw pixels reaches 80.0%.
 */
export const STACKED_AE_HYPERS: readonly HyperSpec[] = [
  layersSpec(
    [500, 250, 30],
    'hidden layer sizes, the last is the code; one greedy pretraining phase per layer',
  ),
  {
    name: 'activation',
    type: 'enum',
    default: 'sigmoid',
    values: ['sigmoid', 'relu', 'tanh'],
    doc: 'nonlinearity of the layers below the code (Bengio et al. 2007: sigmoid)',
  },
  {
    name: 'code-activation',
    type: 'enum',
    default: 'linear',
    values: ['linear', 'sigmoid', 'relu', 'tanh'],
    doc: 'nonlinearity of the code layer (linear: Hinton and Salakhutdinov 2006)',
  },
  {
    name: 'loss',
    type: 'enum',
    default: 'cross-entropy',
    values: ['cross-entropy', 'mse'],
    doc: 'reconstruction loss of the pixels and of sigmoid codes: Bernoulli cross-entropy or squared error (tanh and relu codes: squared error)',
  },
  {
    name: 'noise',
    type: 'float',
    default: 0,
    min: 0,
    max: 0.95,
    doc: "masking noise: fraction of each layer's input zeroed while that layer trains (stacked denoising autoencoder; 0: none)",
  },
];

/** Hyperparameters of `deep-ae`. */
export const DEEP_AE_HYPERS: readonly HyperSpec[] = [
  layersSpec(
    [1000, 500, 250],
    'sigmoid hidden layers between the pixels and the code (one RBM each); the decoder mirrors them',
  ),
  {
    name: 'code',
    type: 'int',
    default: 30,
    min: 1,
    max: MAX_UNITS,
    doc: 'linear code units (2 for the 2-D maps)',
  },
  {
    name: 'pretrain',
    type: 'enum',
    default: 'rbm',
    values: ['rbm', 'none'],
    doc: 'rbm: greedy CD-1 pretraining, one phase per RBM, before fine-tuning; none: Glorot-uniform init, fine-tuning only',
  },
  {
    name: 'pretrain-epochs',
    type: 'int',
    default: 10,
    min: 1,
    max: 100_000,
    doc: 'epochs of each RBM phase',
  },
  {
    name: 'pretrain-lr',
    type: 'float',
    default: 0.1,
    min: 0,
    max: 100,
    doc: 'CD learning rate of the sigmoid-hidden RBMs (momentum 0.5, then 0.9 from epoch 5)',
  },
  {
    name: 'code-lr',
    type: 'float',
    default: 0.001,
    min: 0,
    max: 100,
    doc: 'CD learning rate of the top RBM, whose hidden units are linear with unit-variance Gaussian noise',
  },
  {
    name: 'weight-decay',
    type: 'float',
    default: 0.0002,
    min: 0,
    max: 1,
    doc: 'L2 coefficient on the RBM weights during pretraining',
  },
  {
    name: 'loss',
    type: 'enum',
    default: 'cross-entropy',
    values: ['cross-entropy', 'mse'],
    doc: 'fine-tuning loss per image, summed over pixels: Bernoulli cross-entropy of the logistic outputs, or squared error',
  },
];

/**
 * Standard deviation of the Gaussian decoder, fixed rather than learned: 0.1 weighs a pixel error
 * of 0.1 (on data in [0, 1]) like half a nat, strong enough that the code is used. Its mean is
 * sigmoid(logits), so reconstructions stay in the data range.
 */
export const GAUSSIAN_DECODER_STD = 0.1;

/** Hyperparameters of `vae`. */
export const VAE_HYPERS: readonly HyperSpec[] = [
  layersSpec([512], 'encoder hidden layer sizes before (mu, log sigma^2); the decoder mirrors them'),
  {
    name: 'latent',
    type: 'int',
    default: 20,
    min: 1,
    max: 4096,
    doc: 'latent dimensions (2 for a plottable latent space)',
  },
  {
    name: 'activation',
    type: 'enum',
    default: 'relu',
    values: ['relu', 'tanh', 'sigmoid'],
    doc: 'nonlinearity of the hidden layers',
  },
  {
    name: 'decoder',
    type: 'enum',
    default: 'bernoulli',
    values: ['bernoulli', 'gaussian'],
    doc: `p(x|z): Bernoulli with sigmoid means, or Gaussian with sigmoid mean and fixed std ${GAUSSIAN_DECODER_STD}`,
  },
];

/**
 * Default `ais-betas`. Measured on a 784-500 RBM after one epoch of CD-1 on Fashion-MNIST, native
 * backend at 1 thread, 100 runs: 19 s per estimate here (3.8 ms per beta; 10,000 take 37 s), sd
 * 0.12-0.18 nats, within 0.15 nats of the 30,000-beta estimate.
 */
const RBM_AIS_BETAS = 5000;

/** Hyperparameters of `rbm`. */
export const RBM_HYPERS: readonly HyperSpec[] = [
  { name: 'hidden', type: 'int', default: 500, min: 1, max: 65536, doc: 'hidden units' },
  { name: 'k', type: 'int', default: 1, min: 1, max: 1000, doc: 'Gibbs steps per update (CD-k)' },
  {
    name: 'persistent',
    type: 'bool',
    default: false,
    doc: 'persistent CD: fantasy particles carried across updates (and checkpoints)',
  },
  {
    name: 'weight-decay',
    type: 'float',
    default: 0.0002,
    min: 0,
    max: 1,
    doc: 'L2 coefficient on the weights only',
  },
  {
    name: 'sample-steps',
    type: 'int',
    default: 1000,
    min: 1,
    max: 1_000_000,
    doc: 'Gibbs steps per chain when drawing samples',
  },
  {
    name: 'ais-betas',
    type: 'int',
    default: RBM_AIS_BETAS,
    min: 0,
    max: 1_000_000,
    doc: 'inverse temperatures of the AIS estimate of log Z at evaluation (0 skips it; else >= 2)',
  },
  { name: 'ais-runs', type: 'int', default: 100, min: 1, max: 100_000, doc: 'AIS chains at evaluation' },
];

/**
 * Default `ais-betas`, as the RBM's. Measured on the top RBM (500-500) of the default net after one
 * epoch of CD-1 per phase on Fashion-MNIST, native backend at 1 thread, 100 runs: 18 s of CPU per
 * estimate (3.6 ms per beta), sd 0.38 nats, 0.3 nats below the 20,000-beta estimate (sd 0.24).
 */
const DBN_AIS_BETAS = 5000;

/** Hyperparameters of `dbn`. */
export const DBN_HYPERS: readonly HyperSpec[] = [
  layersSpec([500, 500], 'hidden units per layer, bottom first; one RBM and one training phase per layer'),
  { name: 'k', type: 'int', default: 1, min: 1, max: 1000, doc: 'Gibbs steps per update (CD-k)' },
  {
    name: 'weight-decay',
    type: 'float',
    default: 0.0002,
    min: 0,
    max: 1,
    doc: 'L2 coefficient on the weights of the RBM in training',
  },
  {
    name: 'sample-steps',
    type: 'int',
    default: 1000,
    min: 1,
    max: 1_000_000,
    doc: 'alternating Gibbs steps of the top RBM per sample',
  },
  {
    name: 'ais-betas',
    type: 'int',
    default: DBN_AIS_BETAS,
    min: 0,
    max: 1_000_000,
    doc: "inverse temperatures of the AIS estimate of the top RBM's log Z at evaluation (0 skips it; else >= 2)",
  },
  { name: 'ais-runs', type: 'int', default: 100, min: 1, max: 100_000, doc: 'AIS chains at evaluation' },
];

/** Hyperparameters of `gan`. */
export const GAN_HYPERS: readonly HyperSpec[] = [
  {
    name: 'latent',
    type: 'int',
    default: 100,
    min: 1,
    max: 4096,
    doc: "dimensions of G's input z ~ N(0, I)",
  },
  {
    name: 'g-layers',
    type: 'int-list',
    default: [256, 512],
    min: 1,
    max: 65536,
    doc: 'generator hidden layer sizes from z towards the image (ReLU; sigmoid output)',
  },
  {
    name: 'd-layers',
    type: 'int-list',
    default: [512, 256],
    min: 1,
    max: 65536,
    doc: `discriminator hidden layer sizes from the image towards its logit (LeakyReLU ${LEAKY_SLOPE})`,
  },
];

/** Hyperparameters of `dcgan`; the defaults are the PyTorch DCGAN example's scaled to 28x28. */
export const DCGAN_HYPERS: readonly HyperSpec[] = [
  {
    name: 'latent',
    type: 'int',
    default: 100,
    min: 1,
    max: 4096,
    doc: "dimensions of G's input z ~ N(0, I)",
  },
  {
    name: 'filters',
    type: 'int',
    default: 64,
    min: 1,
    max: 1024,
    doc: "f: channels of D's first convolution and G's last hidden layer; the middle layers have 2f",
  },
  {
    name: 'kernel',
    type: 'int',
    default: 4,
    min: 2,
    max: 8,
    doc: "side of every (transposed) convolution kernel, stride 2, 'same' padding (4: PyTorch's DCGAN, 5: the paper's)",
  },
  {
    name: 'channels',
    type: 'int',
    default: 1,
    min: 1,
    max: 4,
    doc: 'image channels (3 for RGB); the image must be square with a side divisible by 4',
  },
];

/** Every model kind, in the order `harmonium models` lists them. */
export const MODEL_CATALOGUE: readonly ModelDescription[] = [
  {
    kind: 'ae',
    summary:
      'autoencoder; loss mean_x sum_i BCE(x_i, sigmoid(dec(enc(x)))_i) (or squared error with --loss mse)',
    hypers: AE_HYPERS,
    training: ADAM,
  },
  {
    kind: 'sparse-ae',
    summary: 'sparse autoencoder; loss = ae reconstruction + lambda * mean_x sum_j |h_j(x)| (L1 on the code)',
    hypers: SPARSE_AE_HYPERS,
    training: ADAM,
  },
  {
    kind: 'denoising-ae',
    summary: 'denoising autoencoder; loss = ae reconstruction of the clean x from enc(corrupt(x))',
    hypers: DENOISING_AE_HYPERS,
    training: ADAM,
  },
  {
    kind: 'contractive-ae',
    summary:
      'contractive autoencoder (one sigmoid layer); loss = ae reconstruction + lambda * mean_x ||dh/dx||_F^2',
    hypers: CONTRACTIVE_AE_HYPERS,
    training: ADAM,
  },
  {
    kind: 'conv-ae',
    summary:
      'convolutional autoencoder (conv, activation, 2x2 max-pool per layer; 2x2 stride-2 transposed convs back); loss mean_x sum_i (sigmoid(dec(enc(x)))_i - x_i)^2 (or BCE with --loss cross-entropy)',
    hypers: CONV_AE_HYPERS,
    training: ADAM,
  },
  {
    kind: 'seq2seq-ae',
    summary:
      'sequence-to-sequence LSTM autoencoder (image rows as steps; encoder last h -> linear code; decoder LSTM fed the code each step, h0/c0 = tanh(dense(code)), dense + sigmoid per row); loss mean_x sum_i BCE(x_i, x^_i) (or squared error with --loss mse)',
    hypers: SEQ2SEQ_AE_HYPERS,
    training: ADAM,
  },
  {
    kind: 'stacked-ae',
    summary:
      'stacked autoencoder by greedy layer-wise pretraining, one phase per layer (the others frozen); phase i loss mean_x sum_j BCE(h_{i-1}(x)_j, sigmoid(dec_i(enc_i(mask(h_{i-1}(x)))))_j) (squared error with --loss mse or relu/tanh codes); --noise masks each layer input (stacked denoising)',
    hypers: STACKED_AE_HYPERS,
    training: ADAM,
  },
  {
    kind: 'deep-ae',
    summary:
      'deep autoencoder of Hinton & Salakhutdinov 2006: RBM stack pretrained by CD-1 (linear code layer), unrolled, fine-tuned by backprop (--pretrain none: random init)',
    hypers: DEEP_AE_HYPERS,
    training: ADAM,
  },
  {
    kind: 'vae',
    summary:
      'variational autoencoder; loss = -ELBO = E_q[-log p(x|z)] + KL(q(z|x) || N(0, I)) in nats per image',
    hypers: VAE_HYPERS,
    training: ADAM,
  },
  {
    kind: 'rbm',
    summary:
      'Bernoulli-Bernoulli RBM trained by CD-k/PCD; update -(<vh>data - <vh>model) + decay * W, loss = reconstruction SSE',
    hypers: RBM_HYPERS,
    training: RBM_SGD,
  },
  {
    kind: 'dbn',
    summary:
      'deep belief net: greedy stack of Bernoulli RBMs, each trained by CD-k on the hidden probabilities below; samples from the top-level Gibbs chain',
    hypers: DBN_HYPERS,
    training: RBM_SGD,
  },
  {
    kind: 'gan',
    summary:
      'GAN with MLP generator and discriminator; L_D = BCE(real, 1) + BCE(fake, 0), non-saturating L_G = BCE(D(G(z)), 1); both gradients in one step',
    hypers: GAN_HYPERS,
    training: GAN_ADAM,
  },
  {
    kind: 'dcgan',
    summary:
      'DCGAN: strided (transposed) convolutions with batch norm, ReLU in G and LeakyReLU in D; the GAN losses',
    hypers: DCGAN_HYPERS,
    training: GAN_ADAM,
  },
];

/** The description of `kind`; a ConfigError on field `model` that lists the known kinds otherwise. */
export function describeModel(kind: string): ModelDescription {
  const description = MODEL_CATALOGUE.find((d) => d.kind === kind);
  if (!description) {
    throw new ConfigError(
      'model',
      `unknown model "${kind}"; known: ${MODEL_CATALOGUE.map((d) => d.kind).join(', ')}`,
    );
  }
  return description;
}
