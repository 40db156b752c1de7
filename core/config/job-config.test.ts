import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compileJobConfig, parseFlags, type OptionSources } from './job-config.js';
import { configError } from './testing.js';

function sources(args: string[], extra: Partial<OptionSources> = {}): OptionSources {
  return { flags: parseFlags(args), env: {}, jobFile: null, ...extra };
}

describe('parseFlags', () => {
  it('accepts --name value, --name=value, bare booleans and --no-name', () => {
    const f = parseFlags(['--model', 'ae', '--layers=30,10', '--tied', '--no-eval', '--lr', '-0.5']);
    assert.deepEqual(
      [...f.entries()],
      [
        ['model', 'ae'],
        ['layers', '30,10'],
        ['tied', true],
        ['eval', 'false'],
        ['lr', '-0.5'],
      ],
    );
  });

  it('rejects positional words and repeated flags', () => {
    configError(() => parseFlags(['ae']), /ae/, /--name value/);
    configError(() => parseFlags(['--lr', '1', '--lr', '2']), /lr/, /twice/);
  });
});

describe('compileJobConfig', () => {
  it('fills model defaults: Adam for autoencoders, SGD with 0.5 -> 0.9 momentum for the RBM', () => {
    const ae = compileJobConfig(sources(['--model', 'ae']));
    assert.equal(ae.optimizer, 'adam');
    assert.equal(ae.lr, 1e-3);
    assert.equal(ae.out, 'runs/ae');
    assert.equal(ae.data, 'fashion-mnist');
    const rbm = compileJobConfig(sources(['--model', 'rbm', '--hidden', '64']));
    assert.equal(rbm.optimizer, 'sgd');
    assert.equal(rbm.momentum, 0.5);
    assert.equal(rbm.finalMomentum, 0.9);
    assert.equal(rbm.momentumSwitchEpoch, 5);
    assert.equal(rbm.hyper['hidden'], 64);
  });

  it('takes flags over the environment over the job file over defaults', () => {
    const job = { model: 'ae', epochs: 7, 'batch-size': 50, lr: 0.01, layers: [64, 8] };
    const c = compileJobConfig(
      sources(['--lr', '0.02'], {
        env: { HARMONIUM_BATCH_SIZE: '25' },
        jobFile: job,
        jobFilePath: 'job.yaml',
      }),
    );
    assert.equal(c.lr, 0.02);
    assert.equal(c.batchSize, 25);
    assert.equal(c.epochs, 7);
    assert.deepEqual(c.hyper['layers'], [64, 8]);
  });

  it('requires a model and names unknown ones', () => {
    configError(() => compileJobConfig(sources([])), /^model$/, /required/);
    configError(() => compileJobConfig(sources(['--model', 'gan2'])), /^model$/, /unknown model "gan2".*rbm/);
  });

  it('rejects an unknown flag with a suggestion, and another model’s hyperparameter', () => {
    configError(
      () => compileJobConfig(sources(['--model', 'ae', '--epoch', '3'])),
      /^epoch$/,
      /did you mean epochs/,
    );
    configError(() => compileJobConfig(sources(['--model', 'ae', '--hidden', '10'])), /^hidden$/, /model ae/);
  });

  it('rejects an unknown job-file field naming the file', () => {
    configError(
      () => compileJobConfig(sources([], { jobFile: { model: 'vae', latnt: 2 }, jobFilePath: 'j.yaml' })),
      /^latnt$/,
      /j\.yaml.*did you mean latent/,
    );
  });

  it('rejects values of the wrong type or range, naming field and source', () => {
    configError(
      () => compileJobConfig(sources(['--model', 'ae', '--epochs', 'two'])),
      /epochs \(flag/,
      /integer/,
    );
    configError(
      () => compileJobConfig(sources(['--model', 'ae', '--batch-size', '0'])),
      /batch-size/,
      />= 1/,
    );
    configError(
      () => compileJobConfig(sources(['--model', 'ae', '--backend', 'gpu'])),
      /backend/,
      /auto, native, tensorflow, webgpu, wasm, cpu/,
    );
    configError(() => compileJobConfig(sources(['--model', 'ae', '--threads', '-1'])), /threads/, />= 0/);
    configError(() => compileJobConfig(sources(['--model', 'ae', '--layers', '30,x'])), /layers/, /integers/);
    configError(() => compileJobConfig(sources(['--model', 'ae', '--lr'])), /lr/, /needs a value/);
    configError(
      () => compileJobConfig(sources(['--model', 'ae'], { env: { HARMONIUM_EPOCHS: '-1' } })),
      /epochs \(environment HARMONIUM_EPOCHS\)/,
      />= 1/,
    );
    configError(
      () => compileJobConfig(sources([], { jobFile: { model: 'ae', tied: 'maybe' }, jobFilePath: 'j.yaml' })),
      /tied \(job file j\.yaml\)/,
      /true or false/,
    );
  });

  it('validates the elastic options: 1 <= --min-workers <= --workers <= --batch-size', () => {
    const c = compileJobConfig(sources(['--model', 'ae', '--workers', '4', '--batch-size', '10']));
    assert.deepEqual(
      [c.workers, c.minWorkers, c.rendezvousTimeout, c.maxFailures, c.heartbeatTimeout, c.auditSamples],
      [4, 1, 30, 10, 5, false],
      'defaults; 10 images split 3/2/3/2 over 4 workers is fine',
    );
    configError(
      () => compileJobConfig(sources(['--model', 'ae', '--workers', '2', '--min-workers', '3'])),
      /min-workers/,
      /3 is more than --workers 2/,
    );
    configError(
      () => compileJobConfig(sources(['--model', 'ae', '--min-workers', '0'])),
      /min-workers/,
      />= 1/,
    );
    configError(
      () => compileJobConfig(sources(['--model', 'ae', '--workers', '8', '--batch-size', '5'])),
      /batch-size/,
      /smaller than --workers 8/,
    );
    configError(
      () => compileJobConfig(sources(['--model', 'ae', '--max-failures', '-1'])),
      /max-failures/,
      />= 0/,
    );
    configError(
      () => compileJobConfig(sources(['--model', 'ae', '--rendezvous-timeout', 'soon'])),
      /rendezvous-timeout/,
      /number/,
    );
  });
});
