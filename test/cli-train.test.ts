/**
 * End to end: the `harmonium` CLI trains every model on real Fashion-MNIST (a few hundred images),
 * writes summary.json, metrics.jsonl, a checkpoint and pictures; the loss falls; --resume continues
 * the same run bit for bit; `eval` recomputes the test block; bad options fail clearly.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { harmonium, readJson, readJsonLines } from './cli-helpers.js';

const tmp = mkdtempSync(join(tmpdir(), 'harmonium-cli-'));
const SMALL = [
  '--limit',
  '400',
  '--epochs',
  '2',
  '--batch-size',
  '50',
  '--log-every',
  '2',
  '--test-limit',
  '300',
];

/**
 * `samples`: the model draws a sample grid after every epoch (ancestral samplers: VAE, GANs). `epochs`: of all phases (default 2,
 * the job's). `adversarial`: a GAN, whose discriminator loss need not fall.
 */
const MODELS: readonly {
  kind: string;
  args: string[];
  testKeys: string[];
  samples?: true;
  epochs?: number;
  adversarial?: true;
}[] = [
  {
    kind: 'ae',
    args: ['--layers', '64,16'],
    testKeys: ['pca_sse_per_image', 'probe_accuracy', 'finetune_accuracy', 'finetune_random_init_accuracy'],
  },
  { kind: 'sparse-ae', args: ['--layers', '128', '--sparsity', '0.01'], testKeys: ['probe_accuracy'] },
  {
    kind: 'denoising-ae',
    args: ['--layers', '64,16', '--noise', 'gaussian'],
    testKeys: ['pca_sse_per_image'],
  },
  { kind: 'contractive-ae', args: ['--layers', '32'], testKeys: ['pca_sse_per_image'] },
  { kind: 'conv-ae', args: ['--filters', '8,4'], testKeys: ['pca_sse_per_image'] },
  { kind: 'seq2seq-ae', args: ['--hidden', '16', '--code', '8'], testKeys: ['pca_sse_per_image'] },
  {
    kind: 'stacked-ae',
    args: ['--layers', '32,8'],
    testKeys: ['pca_sse_per_image', 'probe_accuracy', 'finetune_accuracy', 'finetune_random_init_accuracy'],
    // Two layers of 2 epochs each.
    epochs: 4,
  },
  {
    kind: 'deep-ae',
    args: ['--layers', '64,32', '--code', '8', '--pretrain-epochs', '1'],
    testKeys: ['pca_sse_per_image', 'probe_accuracy'],
    // Three RBMs of 1 epoch each, then 2 epochs of fine-tuning.
    epochs: 5,
  },
  {
    kind: 'vae',
    args: ['--layers', '64', '--latent', '2'],
    testKeys: ['neg_elbo_nats', 'kl_nats', 'finetune_accuracy', 'classifier_frechet_distance'],
    samples: true,
  },
  {
    kind: 'rbm',
    // A short AIS schedule: the test checks the figures are there; rbm-ais.test.ts checks their values.
    args: ['--hidden', '12', '--sample-steps', '50', '--ais-betas', '200', '--ais-runs', '20'],
    testKeys: ['pseudo_log_likelihood', 'log_likelihood_nats', 'ais_log_likelihood_nats', 'ais_log_z_sd'],
  },
  {
    kind: 'dbn',
    args: ['--layers', '16,8', '--sample-steps', '20', '--ais-betas', '100', '--ais-runs', '10'],
    testKeys: ['ais_log_likelihood_nats', 'ais_log_z_sd', 'probe_accuracy'],
    // Two RBMs of 2 epochs each.
    epochs: 4,
  },
  {
    kind: 'gan',
    args: ['--latent', '8', '--g-layers', '32', '--d-layers', '32'],
    testKeys: ['classifier_frechet_distance', 'sample_class_coverage', 'sample_class_entropy_bits'],
    samples: true,
    adversarial: true,
  },
  {
    kind: 'dcgan',
    args: ['--latent', '8', '--filters', '4'],
    testKeys: ['classifier_frechet_distance', 'classifier_frechet_distance_train_test'],
    samples: true,
    adversarial: true,
  },
];

describe('harmonium train (end to end on Fashion-MNIST)', () => {
  for (const m of MODELS) {
    it(`trains ${m.kind}: outputs written, loss falls, test block filled`, () => {
      const out = join(tmp, m.kind);
      const r = harmonium(['train', '--model', m.kind, ...m.args, ...SMALL, '--out', out]);
      assert.equal(r.status, 0, r.stderr);
      const s = readJson(join(out, 'summary.json'));
      assert.equal(s['model'], m.kind);
      assert.equal(s['workers'], 1);
      const epochs = m.epochs ?? 2;
      assert.equal(s['images_seen'], 400 * epochs);
      assert.equal(s['epochs'], epochs);
      assert.match(String(s['dataset']), /Fashion-MNIST/i);
      // auto picks the native backend wherever the addon is built (npm ci does, with libopenblas-dev).
      assert.equal(s['backend'], 'native');
      assert.ok(Number.isInteger(s['threads']) && (s['threads'] as number) >= 1, 'threads recorded');
      assert.match(String(s['backend_detail']), /OpenBLAS/);
      for (const k of ['wall_seconds', 'images_per_second']) assert.ok((s[k] as number) > 0, k);
      assert.ok(Number.isFinite(s['final_train_loss']));
      const stats = s['param_stats'] as { count: number; l2: number; sum: number };
      assert.ok(stats.count > 0 && stats.l2 > 0);
      const test = s['test'] as Record<string, number>;
      for (const k of [...(m.adversarial ? [] : ['sse_per_image', 'mse_per_pixel']), ...m.testKeys]) {
        assert.ok(Number.isFinite(test[k]), `test.${k} = ${test[k]}`);
      }
      const all = readJsonLines(join(out, 'metrics.jsonl'));
      assert.deepEqual(
        all.map((l) => l['step']),
        Array.from({ length: 4 * epochs }, (_, i) => 2 * (i + 1)),
      );
      for (const l of all) assert.ok(l['images_per_second']! > 0 && Number.isFinite(l['loss']));
      // Losses of different phases measure different things: compare within the last one.
      const lastPhase = Math.max(...all.map((l) => l['phase'] ?? 0));
      const lines = all.filter((l) => (l['phase'] ?? 0) === lastPhase);
      assert.equal(lines.length, 8);
      if (!m.adversarial) {
        assert.ok(
          lines.at(-1)!['loss']! < lines[0]!['loss']!,
          `loss ${lines[0]!['loss']} -> ${lines.at(-1)!['loss']}`,
        );
      }
      assert.ok(existsSync(join(out, 'checkpoint', 'weights.bin')));
      const pictures = s['pictures'] as string[];
      assert.ok(pictures.length >= 2, JSON.stringify(pictures));
      for (const p of pictures) assert.ok(existsSync(join(out, p)) || existsSync(p), p);
      const grids = pictures.filter((p) => p.startsWith('samples-epoch-'));
      assert.deepEqual(
        grids,
        m.samples ? Array.from({ length: epochs }, (_, e) => `samples-epoch-00${e + 1}.png`) : [],
      );
    });
  }

  // deep-ae: two RBM phases of 1 epoch, then fine-tuning; the resumed run continues inside the last phase.
  for (const r of [
    { kind: 'denoising-ae', args: ['--layers', '32,8'], at: 8 },
    { kind: 'deep-ae', args: ['--layers', '32', '--code', '8', '--pretrain-epochs', '1'], at: 24 },
  ]) {
    it(`--resume continues the same ${r.kind} run: identical parameters and loss curve`, () => {
      const straight = join(tmp, `straight-${r.kind}`);
      const resumed = join(tmp, `resumed-${r.kind}`);
      const small = SMALL.filter((_, i) => SMALL[i] !== '--epochs' && SMALL[i - 1] !== '--epochs');
      const base = ['train', '--model', r.kind, ...r.args, ...small, '--no-eval', '--no-pictures'];
      assert.equal(harmonium([...base, '--epochs', '2', '--out', straight]).status, 0);
      const first = harmonium([...base, '--epochs', '1', '--out', resumed]);
      assert.equal(first.status, 0, first.stderr);
      const second = harmonium([...base, '--epochs', '2', '--resume', '--out', resumed]);
      assert.equal(second.status, 0, second.stderr);
      assert.match(second.stderr, new RegExp(`resuming ${r.kind} .* at step ${r.at}`));
      const a = readJson(join(straight, 'summary.json'));
      const b = readJson(join(resumed, 'summary.json'));
      assert.deepEqual(b['param_stats'], a['param_stats']);
      assert.equal(b['resumed_from_step'], r.at);
      const la = readJsonLines(join(straight, 'metrics.jsonl')).map((l) => [
        l['step'],
        l['loss'],
        l['phase'],
      ]);
      const lb = readJsonLines(join(resumed, 'metrics.jsonl')).map((l) => [l['step'], l['loss'], l['phase']]);
      assert.deepEqual(lb, la);
    });
  }

  it('eval --checkpoint recomputes the test block of summary.json', () => {
    const out = join(tmp, 'eval');
    const t = harmonium([
      'train',
      '--model',
      'ae',
      '--layers',
      '32,8',
      ...SMALL,
      '--no-pictures',
      '--out',
      out,
    ]);
    assert.equal(t.status, 0, t.stderr);
    const r = harmonium(['eval', '--checkpoint', join(out, 'checkpoint'), '--test-limit', '300']);
    assert.equal(r.status, 0, r.stderr);
    const again = JSON.parse(r.stdout) as Record<string, number>;
    assert.deepEqual(again, readJson(join(out, 'summary.json'))['test']);
    const wrong = harmonium(['eval', '--checkpoint', join(out, 'checkpoint'), '--ais-betas', '100']);
    assert.notEqual(wrong.status, 0);
    assert.match(wrong.stderr, /ais-betas/);
  });

  it('eval --ais-betas estimates an RBM log-likelihood the run skipped, next to the exact one', () => {
    const out = join(tmp, 'eval-ais');
    const t = harmonium([
      'train',
      '--model',
      'rbm',
      '--hidden',
      '10',
      '--ais-betas',
      '0',
      ...SMALL,
      '--no-pictures',
      '--out',
      out,
    ]);
    assert.equal(t.status, 0, t.stderr);
    assert.equal(readJson(join(out, 'summary.json'))['test']!['ais_log_likelihood_nats' as never], undefined);
    const r = harmonium([
      'eval',
      '--checkpoint',
      join(out, 'checkpoint'),
      '--test-limit',
      '300',
      '--ais-betas',
      '1000',
      '--ais-runs',
      '50',
    ]);
    assert.equal(r.status, 0, r.stderr);
    const report = JSON.parse(r.stdout) as Record<string, number>;
    const exact = report['log_likelihood_nats']!;
    const ais = report['ais_log_likelihood_nats']!;
    assert.ok(
      Math.abs(ais - exact) < Math.max(0.5, 4 * report['ais_log_z_sd']!),
      `AIS ${ais} against exact ${exact}`,
    );
  });
});

describe('harmonium CLI errors', () => {
  const cases: { name: string; args: string[]; stderr: RegExp; env?: Record<string, string> }[] = [
    {
      name: 'a non-numeric flag',
      args: ['--model', 'ae', '--epochs', 'two'],
      stderr: /epochs \(flag --epochs\).*integer/,
    },
    { name: 'an unknown model', args: ['--model', 'gann'], stderr: /model: unknown model "gann".*vae, rbm/ },
    {
      name: 'an unknown flag',
      args: ['--model', 'vae', '--latnet', '2'],
      stderr: /latnet: .*did you mean latent/,
    },
    {
      name: 'a bad environment value',
      args: ['--model', 'ae'],
      env: { HARMONIUM_BACKEND: 'gpu' },
      stderr: /backend \(environment HARMONIUM_BACKEND\)/,
    },
    {
      name: 'a missing IDX file',
      args: ['--model', 'ae', '--data', 'idx:/nonexistent/train-images-idx3-ubyte'],
      stderr: /\/nonexistent\/train-images-idx3-ubyte/,
    },
    {
      name: 'an unknown data scheme',
      args: ['--model', 'ae', '--data', 'csv:x'],
      stderr: /data: .*images:DIR/,
    },
    {
      name: 'a batch larger than the corpus',
      args: ['--model', 'ae', '--limit', '10', '--batch-size', '20'],
      stderr: /batch-size: 20 is larger than the 10 training images/,
    },
    {
      name: 'a native backend that is not installed',
      args: ['--model', 'ae', '--backend', 'tensorflow'],
      stderr: /BACKEND_UNAVAILABLE.*@tensorflow\/tfjs-node-gpu or @tensorflow\/tfjs-node/,
    },
    {
      name: 'a model whose kernels the backend lacks',
      args: ['--model', 'conv-ae', '--backend', 'wasm', '--limit', '100', '--batch-size', '50'],
      stderr:
        /BACKEND_UNAVAILABLE.*conv-ae needs the tfjs kernel Conv2DBackpropFilter, which backend "wasm" does not have/,
    },
  ];
  for (const c of cases) {
    it(`rejects ${c.name}`, () => {
      const r = harmonium(['train', ...c.args, '--out', join(tmp, 'err')], c.env);
      assert.notEqual(r.status, 0);
      assert.match(r.stderr, c.stderr);
      assert.doesNotMatch(r.stderr, /unexpected error/);
    });
  }

  it('rejects an unknown job-file field naming the file', () => {
    const job = join(tmp, 'job.yaml');
    writeFileSync(job, 'model: ae\nepochs: 1\nlayer: [64, 16]\n');
    const r = harmonium(['train', '--config', job]);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /layer: unknown field in job file .*job\.yaml.*did you mean layers/);
  });

  it('lists the models with their hyperparameters', () => {
    const r = harmonium(['models']);
    assert.equal(r.status, 0);
    for (const kind of [
      'ae',
      'sparse-ae',
      'denoising-ae',
      'contractive-ae',
      'vae',
      'rbm',
      'deep-ae',
      'dcgan',
    ]) {
      assert.match(r.stdout, new RegExp(`^${kind} `, 'm'));
    }
    assert.match(r.stdout, /--hidden/);
    assert.match(r.stdout, /--noise-rate/);
    assert.match(r.stdout, /training defaults: adam, lr 0\.0002, beta1 0\.5/);
    assert.match(
      r.stdout,
      /phases with the defaults on 28x28 images: rbm-1 784-1000 \(10 epochs, sgd lr 0\.1\);/,
    );
  });
});
