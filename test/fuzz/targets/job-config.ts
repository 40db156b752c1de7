/**
 * Fuzz target: compileSubmission on a SubmitJob config_json. Inputs are job configs of every model
 * with options set to values of any JSON type (unknown names, wrong types, values out of range),
 * arbitrary JSON, and the UTF-8 bytes of valid configs mutated.
 */
import fc from 'fast-check';

import { compileSubmission } from '../../../core/config/job-submission.js';
import { TRAINING_OPTIONS } from '../../../core/config/job-config.js';
import { MODEL_CATALOGUE } from '../../../core/models/model-catalogue.js';
import type { FuzzTarget } from '../fuzz-target.js';
import { mutatedBytes } from '../mutate.js';
import { deepJson, edgyJson } from '../structured-edits.js';

const OPTION_NAMES = [
  ...new Set([...TRAINING_OPTIONS, ...MODEL_CATALOGUE.flatMap((m) => m.hypers)].map((s) => s.name)),
];

const optionValue = fc.oneof(
  edgyJson,
  fc.constantFrom('1', '1e3', 'Infinity', 'NaN', '-0', '0x10', ' 2 ', 'true', '[1,2]', '1,2', 'ae', 'adam'),
  fc.double(),
  fc.array(fc.integer(), { maxLength: 5 }),
);

const config: fc.Arbitrary<Uint8Array> = fc
  .record({
    model: fc.oneof(
      { weight: 8, arbitrary: fc.constantFrom(...MODEL_CATALOGUE.map((m) => m.kind)) },
      { weight: 1, arbitrary: edgyJson },
    ),
    // Mostly one to three known options, so that the rest keep their defaults and many jobs compile.
    options: fc.dictionary(
      fc.oneof(
        { weight: 8, arbitrary: fc.constantFrom(...OPTION_NAMES) },
        { weight: 1, arbitrary: fc.string() },
      ),
      optionValue,
      { maxKeys: 3 },
    ),
  })
  .map(({ model, options }) => Buffer.from(JSON.stringify({ ...options, model })));

/** The job-config fuzz target. */
export const jobConfigTarget: FuzzTarget = {
  name: 'job-config',
  seeds: () =>
    [
      { model: 'ae', epochs: 2, data: 'fashion-mnist', out: 'ae' },
      { model: 'rbm', hidden: 64, lr: 0.05, 'batch-size': 50 },
      { model: 'vae', latent: 2, workers: 2, 'min-workers': 1 },
      { model: 'dcgan', epochs: 1 },
    ].map((c) => Buffer.from(JSON.stringify(c))),
  arbitrary: (seeds) =>
    fc.oneof(
      { weight: 4, arbitrary: config },
      { weight: 1, arbitrary: fc.json().map((j) => Buffer.from(j)) },
      { weight: 2, arbitrary: mutatedBytes(seeds) },
      {
        weight: 1,
        arbitrary: fc
          .tuple(fc.constantFrom(...OPTION_NAMES), deepJson)
          .map(([name, deep]) => Buffer.from(`{"model":"ae","${name}":${deep}}`)),
      },
    ),
  run: (input) => {
    const config = compileSubmission(Buffer.from(input).toString('utf8'));
    // As the coordinator records the job.
    JSON.stringify(config);
    return config;
  },
};
