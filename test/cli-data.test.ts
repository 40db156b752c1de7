/**
 * End to end: `harmonium data pack` writes a tar-shard corpus from an IDX file, and `harmonium train`
 * streams it, from its directory, over HTTP, or over HTTPS with a private CA; a run stopped mid-epoch resumes to the same parameters; `--test-data` gives a shard
 * corpus a test block; a shard that no longer matches its manifest stops training with a clear error.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { shardOrder } from '../core/data/sampler.js';
import { shardFileName } from '../core/data/shard-manifest.js';
import { startFileServer } from '../core/data/testing.js';
import { createCertificates } from '../core/security/certificate-authority.js';
import { harmonium, harmoniumAsync, readJson, readJsonLines } from './cli-helpers.js';

const FMNIST = '/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz';
const tmp = mkdtempSync(join(tmpdir(), 'harmonium-data-'));

/** The first `n` images of a Fashion-MNIST images file as a plain (not gzipped) IDX file. */
function smallIdx(n: number, from = FMNIST, name = 'small-images-idx3-ubyte'): string {
  const full = gunzipSync(readFileSync(from));
  const header = Buffer.from(full.subarray(0, 16));
  header.writeUInt32BE(n, 4);
  const path = join(tmp, name);
  writeFileSync(path, Buffer.concat([header, full.subarray(16, 16 + n * 784)]));
  return path;
}

describe('harmonium data pack + train from shards', () => {
  const idx = smallIdx(250);
  const shards = join(tmp, 'shards');

  it('packs 250 images into 3 shards with a manifest', () => {
    const r = harmonium(['data', 'pack', `idx:${idx}`, '--out', shards, '--shard-size', '100']);
    assert.equal(r.status, 0, r.stderr);
    const manifest = readJson(join(shards, 'manifest.json'));
    assert.equal(manifest['count'], 250);
    const list = manifest['shards'] as { count: number; sha256: string }[];
    assert.deepEqual(
      list.map((s) => s.count),
      [100, 100, 50],
    );
    for (const s of list) assert.match(s.sha256, /^[0-9a-f]{64}$/);
  });

  it('trains an RBM from the shards', () => {
    const out = join(tmp, 'run');
    const r = harmonium([
      'train',
      '--model',
      'rbm',
      '--hidden',
      '16',
      '--sample-steps',
      '50',
      '--ais-betas',
      '0',
      '--data',
      `shards:${shards}`,
      '--epochs',
      '1',
      '--batch-size',
      '50',
      '--out',
      out,
    ]);
    assert.equal(r.status, 0, r.stderr);
    const s = readJson(join(out, 'summary.json'));
    assert.equal(s['images_seen'], 250);
    assert.match(String(s['dataset']), /shards/);
    assert.equal(s['test'], null, 'no test split in the shards');
  });

  it('trains the same RBM from the shards served over HTTP, filling the shard cache', async () => {
    const server = await startFileServer(shards);
    const cache = join(tmp, 'shard-cache');
    const out = join(tmp, 'run-http');
    try {
      const r = await harmoniumAsync([
        ...['train', '--model', 'rbm', '--hidden', '16', '--sample-steps', '50', '--ais-betas', '0'],
        ...['--data', `shards:${server.url}`, '--shard-cache', cache, '--epochs', '1'],
        ...['--batch-size', '50', '--out', out],
      ]);
      assert.equal(r.status, 0, r.stderr);
    } finally {
      await server.close();
    }
    assert.equal(readJson(join(out, 'summary.json'))['images_seen'], 250);
    const losses = (run: string) => readJsonLines(join(tmp, run, 'metrics.jsonl')).map((x) => x['loss']);
    assert.deepEqual(losses('run-http'), losses('run'));
    assert.equal(readdirSync(cache).filter((f) => f.endsWith('.shard')).length, 3);
    assert.ok(
      server.requests.some((q) => q.range !== null),
      'shards were read in ranges',
    );
  });

  it('trains the same RBM over HTTPS from a server signed by a private CA named in NODE_EXTRA_CA_CERTS', async () => {
    const certs = join(tmp, 'certs');
    await createCertificates(certs);
    const server = await startFileServer(shards, {
      cert: readFileSync(join(certs, 'tls.crt')),
      key: readFileSync(join(certs, 'tls.key')),
    });
    const out = join(tmp, 'run-https');
    try {
      const r = await harmoniumAsync(
        [
          ...['train', '--model', 'rbm', '--hidden', '16', '--sample-steps', '50', '--ais-betas', '0'],
          ...['--data', `shards:${server.url}`, '--epochs', '1', '--batch-size', '50', '--out', out],
        ],
        { NODE_EXTRA_CA_CERTS: join(certs, 'ca.crt') },
      );
      assert.equal(r.status, 0, r.stderr);
    } finally {
      await server.close();
    }
    assert.match(server.url, /^https:/);
    const losses = (run: string) => readJsonLines(join(tmp, run, 'metrics.jsonl')).map((x) => x['loss']);
    assert.deepEqual(losses('run-https'), losses('run'));
  });

  it('resumes a run stopped mid-epoch to the same parameters as an uninterrupted one', () => {
    const base = ['train', '--model', 'rbm', '--hidden', '16', '--data', `shards:${shards}`, '--seed', '1'];
    const run = [...base, '--epochs', '2', '--batch-size', '30', '--no-eval', '--no-pictures'];
    const straight = harmonium([...run, '--out', join(tmp, 'straight')]);
    assert.equal(straight.status, 0, straight.stderr);
    // Stop the run where its first batch needs the second shard of epoch 0, by spoiling that shard.
    const order = shardOrder(3, 1, 0);
    const shard = join(shards, shardFileName(order[1]!));
    const good = readFileSync(shard);
    const spoilt = Buffer.from(good);
    spoilt[1000] = spoilt[1000]! ^ 1;
    writeFileSync(shard, spoilt);
    const stopped = harmonium([...run, '--checkpoint-every', '1', '--out', join(tmp, 'stopped')]);
    writeFileSync(shard, good);
    assert.notEqual(stopped.status, 0);
    assert.match(stopped.stderr, new RegExp(`DATA_CHECKSUM.*${shardFileName(order[1]!)}`));
    const resumed = harmonium([...run, '--resume', '--out', join(tmp, 'stopped')]);
    assert.equal(resumed.status, 0, resumed.stderr);
    const at = Math.floor((order[0] === 2 ? 50 : 100) / 30);
    assert.match(resumed.stderr, new RegExp(`resuming rbm .* at step ${at} \\(epoch 0\\)`));
    const a = readJson(join(tmp, 'straight', 'summary.json'));
    const b = readJson(join(tmp, 'stopped', 'summary.json'));
    assert.equal(a['steps'], 16, '250 images in batches of 30: 8 steps an epoch');
    assert.deepEqual(b['param_stats'], a['param_stats']);
  });

  it('evaluates on --test-data, fitting the PCA on the training images read back', () => {
    const test = smallIdx(200, FMNIST.replace('train-', 't10k-'), 'small-t10k-images-idx3-ubyte');
    const out = join(tmp, 'with-test');
    const r = harmonium([
      'train',
      '--model',
      'rbm',
      '--hidden',
      '8',
      '--ais-betas',
      '0',
      '--data',
      `shards:${shards}`,
      '--test-data',
      `idx:${test}`,
      '--epochs',
      '1',
      '--batch-size',
      '50',
      '--no-pictures',
      '--out',
      out,
    ]);
    assert.equal(r.status, 0, r.stderr);
    const block = readJson(join(out, 'summary.json'))['test'] as Record<string, number>;
    assert.ok(Number.isFinite(block['sse_per_image']) && Number.isFinite(block['pca_sse_per_image']));
    assert.equal(block['pca_fit_images'], 250);
    const again = harmonium(['eval', '--checkpoint', join(out, 'checkpoint')]);
    assert.equal(again.status, 0, again.stderr);
    assert.deepEqual(JSON.parse(again.stdout), block);
  });

  it('refuses a shard whose bytes changed since packing, naming the shard', () => {
    const shard = join(shards, 'shard-000001.tar');
    const bytes = readFileSync(shard);
    bytes[1000] = bytes[1000]! ^ 0xff;
    writeFileSync(shard, bytes);
    const r = harmonium(['train', '--model', 'rbm', '--data', `shards:${shards}`, '--out', join(tmp, 'bad')]);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /DATA_CHECKSUM.*shard-000001\.tar/);
  });
});
