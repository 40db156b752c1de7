/** The models the CLI can name: each catalogue description with the function that builds it. */
import { createAutoencoder } from './autoencoder.js';
import { createConvAutoencoder } from './conv-autoencoder.js';
import { createDbn } from './dbn.js';
import { createDcgan } from './dcgan.js';
import { createDeepAutoencoder } from './deep-autoencoder.js';
import { createGan } from './gan.js';
import type { ModelEntry } from './hyper.js';
import { MODEL_CATALOGUE, describeModel } from './model-catalogue.js';
import { createRbm } from './rbm.js';
import { createSeq2SeqAutoencoder } from './seq2seq-autoencoder.js';
import { createStackedAutoencoder } from './stacked-autoencoder.js';
import { createVae } from './vae.js';

/** How each kind is built, keyed by ModelDescription.kind. */
const CREATE: Readonly<Record<string, ModelEntry['create']>> = {
  ae: (inputSize, hyper) => createAutoencoder('ae', inputSize, hyper),
  'sparse-ae': (inputSize, hyper) => createAutoencoder('sparse-ae', inputSize, hyper),
  'denoising-ae': (inputSize, hyper) => createAutoencoder('denoising-ae', inputSize, hyper),
  'contractive-ae': (inputSize, hyper) => createAutoencoder('contractive-ae', inputSize, hyper),
  'conv-ae': createConvAutoencoder,
  'seq2seq-ae': createSeq2SeqAutoencoder,
  'stacked-ae': createStackedAutoencoder,
  'deep-ae': createDeepAutoencoder,
  vae: createVae,
  rbm: createRbm,
  dbn: createDbn,
  gan: createGan,
  dcgan: createDcgan,
};

/** Every model kind, in the order `harmonium models` lists them. */
export const MODEL_ENTRIES: readonly ModelEntry[] = MODEL_CATALOGUE.map((description) => {
  const create = CREATE[description.kind];
  // At load, so that a kind added to one table and not the other fails every run, not one job.
  if (!create)
    throw new Error(`model-catalogue.ts has model "${description.kind}" but registry.ts no create`);
  return { ...description, create };
});

const BY_KIND = new Map(MODEL_ENTRIES.map((e) => [e.kind, e]));

/** The entry for `kind`; a ConfigError on field `model` that lists the known kinds otherwise. */
export function findModel(kind: string): ModelEntry {
  // describeModel throws for an unknown kind; every catalogue kind has an entry.
  return BY_KIND.get(describeModel(kind).kind)!;
}
