import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { ConfigError } from '../errors.js';
import { compileJobConfig, type JobConfig } from './job-config.js';
import { compileSubmission, MAX_SUBMISSION_BYTES } from './job-submission.js';
import { configError } from './testing.js';

/** What `harmonium submit --config FILE` compiles from a job file holding `text`. */
function compileAsJobFile(text: string): JobConfig {
  const jobFile = parseYaml(text) as Record<string, unknown>;
  return compileJobConfig({ flags: new Map(), env: {}, jobFile, jobFilePath: 'job.json' });
}

describe('compileSubmission', () => {
  it('compiles a minimal config exactly as the same job file, defaults included', () => {
    const json = '{"model":"ae","epochs":2,"data":"fashion-mnist","out":"ae"}';
    const c = compileSubmission(json);
    assert.deepEqual(c, compileAsJobFile(json));
    assert.deepEqual(
      [c.model, c.epochs, c.out, c.optimizer, c.lr, c.batchSize, c.workers, c.backend, c.hyper['layers']],
      ['ae', 2, 'ae', 'adam', 1e-3, 100, 1, 'auto', [256, 64]],
    );
    const rbm = compileSubmission('{"model":"rbm","hidden":64,"out":"r"}');
    assert.deepEqual(rbm, compileAsJobFile('{"model":"rbm","hidden":64,"out":"r"}'));
    assert.deepEqual([rbm.optimizer, rbm.momentum, rbm.finalMomentum], ['sgd', 0.5, 0.9]);
  });

  it('leaves out empty when not given, as harmonium submit does, for the coordinator to choose', () => {
    const json = '{"model":"vae","latent":2}';
    assert.deepEqual(compileSubmission(json), { ...compileAsJobFile(json), out: '' });
  });

  it('does not read the HARMONIUM_* environment', () => {
    process.env['HARMONIUM_EPOCHS'] = '9';
    try {
      assert.equal(compileSubmission('{"model":"ae"}').epochs, 5);
    } finally {
      delete process.env['HARMONIUM_EPOCHS'];
    }
  });

  it('rejects an unknown field with a suggestion, naming the source', () => {
    configError(
      () => compileSubmission('{"model":"ae","epoch":3}'),
      /^epoch$/,
      /unknown field in SubmitJob config_json for model ae \(did you mean epochs\?\)/,
    );
    configError(() => compileSubmission('{"model":"ae","hidden":10}'), /^hidden$/, /model ae/);
    configError(
      () => compileSubmission('{"model":"vae","latnt":2}', 'job 7'),
      /^latnt$/,
      /field in job 7.*did you mean latent/,
    );
  });

  it('rejects values of the wrong type or range, naming the option and the source', () => {
    const where = /\(SubmitJob config_json\)$/;
    const cases: [string, RegExp][] = [
      ['{"model":"ae","epochs":"two"}', /integer/],
      ['{"model":"ae","epochs":1.5}', /integer/],
      ['{"model":"ae","batch-size":0}', />= 1/],
      ['{"model":"ae","backend":"gpu"}', /auto, native, tensorflow, webgpu, wasm, cpu/],
      ['{"model":"ae","layers":[30,"x"]}', /integers/],
      ['{"model":"ae","tied":"maybe"}', /true or false/],
      ['{"model":"rbm","k":0}', />= 1/],
      ['{"model":"ae","out":""}', /non-empty string/],
    ];
    for (const [json, message] of cases) {
      assert.throws(
        () => compileSubmission(json),
        (err: unknown) => err instanceof ConfigError && where.test(err.field) && message.test(err.message),
        json,
      );
    }
    configError(
      () => compileSubmission('{"model":"ae","workers":2,"min-workers":3}'),
      /^min-workers$/,
      /more than --workers 2/,
    );
  });

  it('requires a model and names unknown ones', () => {
    configError(() => compileSubmission('{}'), /^model$/, /required/);
    configError(() => compileSubmission('{"epochs":2}'), /^model$/, /required/);
    configError(() => compileSubmission('{"model":"gan2"}'), /^model$/, /unknown model "gan2".*dcgan/);
  });

  it('rejects JSON that is not an object, naming config_json', () => {
    for (const [json, got] of [
      ['[]', /an array/],
      ['null', /null/],
      ['3', /number/],
      ['"ae"', /string/],
      ['true', /boolean/],
    ] as const) {
      configError(() => compileSubmission(json), /^config_json$/, new RegExp(`JSON object.*${got.source}`));
    }
  });

  it('rejects malformed JSON, naming config_json', () => {
    for (const json of ['', '{"model": "ae",', "{model: 'ae'}", 'model: ae']) {
      configError(() => compileSubmission(json), /^config_json$/, /not valid JSON/);
    }
  });

  it('rejects input over MAX_SUBMISSION_BYTES, counted in UTF-8 bytes before parsing', () => {
    const at = (bytes: number): string => {
      const head = '{"model":"ae"}';
      return head + ' '.repeat(bytes - head.length);
    };
    assert.equal(MAX_SUBMISSION_BYTES, 64 * 1024);
    assert.equal(compileSubmission(at(MAX_SUBMISSION_BYTES)).model, 'ae');
    configError(() => compileSubmission(at(MAX_SUBMISSION_BYTES + 1)), /^config_json$/, /65537 bytes.*65536/);
    // Malformed and oversized: the size is what is reported, so the parse never ran.
    configError(() => compileSubmission(`{${' '.repeat(MAX_SUBMISSION_BYTES)}`), /^config_json$/, /bytes/);
    // Fewer characters than the limit, but two bytes each in UTF-8.
    const wide = JSON.stringify({ model: 'ae', data: 'é'.repeat(MAX_SUBMISSION_BYTES / 2) });
    assert.ok(wide.length < MAX_SUBMISSION_BYTES);
    configError(() => compileSubmission(wide), /^config_json$/, /bytes/);
  });
});
