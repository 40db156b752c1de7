/**
 * End to end: real coordinator and worker processes over loopback gRPC, on real Fashion-MNIST.
 * `train --workers 2` reaches the single worker's parameters; every process serves /metrics; an
 * interrupted job keeps its checkpoint and `--resume` continues it on another worker count; a
 * standalone coordinator takes jobs from `harmonium submit`; workers stop when it dies. Losing,
 * adding and removing workers mid-job: elastic.test.ts.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { readCheckpoint } from '../core/train/checkpoint.js';
import { harmonium, readJson, readJsonLines } from './cli-helpers.js';
import { freePort } from './free-port.js';
import { childPids, floats, maxAbsDiff, start, until } from './processes.js';

const tmp = mkdtempSync(join(tmpdir(), 'harmonium-cluster-'));
async function scrape(port: number): Promise<string | null> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/metrics`);
    return res.ok ? await res.text() : null;
  } catch {
    return null;
  }
}

describe('harmonium cluster (real processes, loopback gRPC)', () => {
  it('train --workers 2 reaches the parameters of one worker with the same global batch', () => {
    const common = [
      '--model',
      'ae',
      '--layers',
      '64,16',
      '--limit',
      '1000',
      '--epochs',
      '1',
      '--batch-size',
      '50',
    ];
    const one = harmonium(['train', ...common, '--test-limit', '200', '--out', join(tmp, 'one')]);
    assert.equal(one.status, 0, one.stderr);
    const twoWorkers = (out: string, extra: readonly string[] = []) =>
      harmonium([
        'train',
        ...common,
        '--workers',
        '2',
        '--test-limit',
        '200',
        ...extra,
        '--out',
        join(tmp, out),
      ]);
    const two = twoWorkers('two');
    assert.equal(two.status, 0, two.stderr);
    const s = readJson(join(tmp, 'two', 'summary.json'));
    assert.equal(s['workers'], 2);
    assert.equal(s['steps'], 20);
    assert.equal(s['images_seen'], 1000);
    assert.ok((s['test'] as Record<string, number>)['sse_per_image']! > 0);
    for (const f of ['reconstructions.png', 'metrics.jsonl', 'checkpoint/weights.bin']) {
      assert.ok(existsSync(join(tmp, 'two', f)), f);
    }
    const lines = readJsonLines(join(tmp, 'two', 'metrics.jsonl'));
    assert.deepEqual(
      lines.map((l) => l['step']),
      readJsonLines(join(tmp, 'one', 'metrics.jsonl')).map((l) => l['step']),
    );
    assert.ok(lines.every((l) => l['allreduce_seconds']! > 0));
    const diff = maxAbsDiff(
      floats(join(tmp, 'one', 'checkpoint', 'weights.bin')),
      floats(join(tmp, 'two', 'checkpoint', 'weights.bin')),
    );
    assert.ok(diff < 1e-4, `max |difference| ${diff}`);

    // Gradients on a bf16 wire: half the bytes, the test figure within 1 % of float32's.
    const bf16 = twoWorkers('bf16', ['--allreduce-dtype', 'bf16', '--no-pictures']);
    assert.equal(bf16.status, 0, bf16.stderr);
    const figure = (dir: string) =>
      (readJson(join(tmp, dir, 'summary.json'))['test'] as Record<string, number>)['sse_per_image']!;
    const [full, half] = [figure('two'), figure('bf16')];
    assert.notEqual(half, full, 'the bf16 run rounded its gradients');
    assert.ok(Math.abs(half - full) < 0.01 * full, `test SSE per image ${half} on bf16, ${full} on float32`);
  });

  it('local SGD trains the deep autoencoder to within 5 % of synchronous training with 9x fewer bytes', () => {
    const common = [
      '--model',
      'ae',
      '--layers',
      '1000,500,250,30',
      '--limit',
      '6000',
      '--epochs',
      '5',
      '--batch-size',
      '100',
      '--workers',
      '2',
      '--log-every',
      '10',
      '--no-eval',
      '--no-pictures',
    ];
    const runs = [1, 10].map((h) => {
      const out = join(tmp, `sync-every-${h}`);
      const r = harmonium(['train', ...common, '--sync-every', String(h), '--out', out]);
      assert.equal(r.status, 0, r.stderr);
      const lines = readJsonLines(join(out, 'metrics.jsonl'));
      // The last epoch's mean training loss, and the bytes each rank put through the all-reduce.
      const last = lines.filter((l) => l['epoch'] === 4 || (l['epoch'] === 5 && l['step'] === 300));
      return {
        loss: last.reduce((n, l) => n + l['loss']!, 0) / last.length,
        bytes: lines.reduce((n, l) => n + l['allreduce_bytes']! * 10, 0),
      };
    });
    const [sync, local] = runs as [{ loss: number; bytes: number }, { loss: number; bytes: number }];
    assert.ok(
      local.loss < 1.05 * sync.loss,
      `last-epoch loss ${local.loss} at H = 10, ${sync.loss} synchronous`,
    );
    assert.ok(sync.bytes > 9 * local.bytes, `${sync.bytes} bytes synchronous, ${local.bytes} at H = 10`);
  });

  it('refuses a global batch smaller than --workers, and --min-workers above --workers', () => {
    const small = harmonium([
      'train',
      '--model',
      'ae',
      '--batch-size',
      '3',
      '--workers',
      '4',
      '--out',
      join(tmp, 'x'),
    ]);
    assert.equal(small.status, 2);
    assert.match(small.stderr, /batch-size: the global batch 3 is smaller than --workers 4/);
    const min = harmonium([
      'train',
      '--model',
      'ae',
      '--workers',
      '2',
      '--min-workers',
      '3',
      '--out',
      join(tmp, 'x'),
    ]);
    assert.equal(min.status, 2);
    assert.match(min.stderr, /min-workers: 3 is more than --workers 2/);
  });

  it('every process serves /metrics; a checkpointed job continues with --resume on fewer workers', async () => {
    const out = join(tmp, 'resumed');
    const port = await freePort();
    const args = ['--model', 'ae', '--layers', '256,64', '--limit', '20000', '--batch-size', '50'];
    const run = start([
      'train',
      ...args,
      '--epochs',
      '4',
      '--workers',
      '2',
      '--checkpoint-every',
      '20',
      '--log-every',
      '5',
      '--test-limit',
      '200',
      '--metrics-port',
      String(port),
      '--out',
      out,
    ]);
    await until('a checkpoint', 120_000, () =>
      existsSync(join(out, 'checkpoint', 'weights.bin')) ? true : null,
    );
    // Every process serves /metrics: the coordinator on P, worker rank r on P+1+r.
    const coord = await until('coordinator metrics', 10_000, () => scrape(port));
    assert.match(coord, /harmonium_job_state\{[^}]*state="RUNNING"[^}]*\} 1/);
    assert.match(coord, /harmonium_live_workers\{[^}]*\} 2/);
    assert.match(coord, /harmonium_worker_failures_total\{[^}]*reason="exited"[^}]*\} 0/);
    for (const p of [port + 1, port + 2]) {
      const w = await until(`worker metrics on ${p}`, 10_000, () => scrape(p));
      assert.match(w, /harmonium_allreduce_duration_seconds_count\{[^}]*\} [1-9]/);
      assert.match(w, /harmonium_images_processed_total\{[^}]*\} [1-9]/);
    }
    // Ctrl-C of the launcher cancels the job; the checkpoint stays.
    run.child.kill('SIGINT');
    assert.equal(await run.exit, 1, run.output());
    assert.match(run.output(), /job ae-\w+ cancelled: interrupted by SIGINT/);
    assert.deepEqual(childPids(run.child.pid!), [], 'no worker left running');
    const ckpt = await readCheckpoint(join(out, 'checkpoint'));
    assert.ok(ckpt.cursor.step >= 20 && ckpt.cursor.step % 20 === 0);

    // A shorter run (the epoch count is not part of the resume key) keeps the test quick; one
    // worker continues what two began (an in-memory corpus's order does not depend on the workers).
    const shorter = [...args, '--epochs', '1'];
    const resumed = harmonium([
      'train',
      ...shorter,
      '--workers',
      '2',
      '--min-workers',
      '1',
      '--test-limit',
      '200',
      '--resume',
      '--out',
      out,
    ]);
    assert.equal(resumed.status, 0, resumed.stderr);
    const s = readJson(join(out, 'summary.json'));
    assert.equal(s['resumed_from_step'], ckpt.cursor.step);
    assert.equal(s['steps'], 400);
    const steps = readJsonLines(join(out, 'metrics.jsonl')).map((l) => l['step']!);
    assert.deepEqual(
      steps,
      [...steps].sort((x, y) => x - y),
      'metrics.jsonl continues in order from the checkpoint',
    );
    assert.equal(new Set(steps).size, steps.length);
  });

  it('a standalone coordinator runs a job submitted by `harmonium submit` on `harmonium worker`s (--insecure)', async () => {
    const port = await freePort();
    const address = `127.0.0.1:${port}`;
    const coordinator = start(['coordinator', '--listen', address, '--runs-dir', tmp, '--insecure']);
    try {
      await until('the coordinator', 30_000, () =>
        coordinator.output().includes('listening') ? true : null,
      );
      const workers = [0, 1].map(() => start(['worker', '--coordinator', address, '--once', '--insecure']));
      const out = join(tmp, 'submitted');
      const submit = start([
        'submit',
        '--coordinator',
        address,
        '--model',
        'rbm',
        '--hidden',
        '16',
        '--ais-betas',
        '0',
        '--limit',
        '400',
        '--epochs',
        '1',
        '--batch-size',
        '20',
        '--workers',
        '2',
        '--test-limit',
        '100',
        '--out',
        out,
      ]);
      assert.equal(await submit.exit, 0, submit.output() + coordinator.output());
      assert.match(submit.output(), /job rbm-\w+ succeeded/);
      assert.deepEqual(await Promise.all(workers.map((w) => w.exit)), [0, 0]);
      assert.equal(readJson(join(out, 'summary.json'))['workers'], 2);
      assert.equal(coordinator.output().match(/WARNING: --insecure/g)?.length, 1, 'warned once');
      const status = harmonium(['status', '--coordinator', address]);
      assert.equal(status.status, 0, status.stderr);
      assert.match(status.stdout, /rbm-\w+\s+SUCCEEDED\s+rbm\s+2\s+1\s+20\/20\s+\S+\s+2 of 1-2\s+0/);
    } finally {
      coordinator.child.kill('SIGTERM');
      await coordinator.exit;
    }
  });

  it('workers stop once their coordinator has been silent for --coordinator-timeout', async () => {
    const address = `127.0.0.1:${await freePort()}`;
    const coordinator = start(['coordinator', '--listen', address, '--runs-dir', tmp, '--insecure']);
    await until('the coordinator', 30_000, () => (coordinator.output().includes('listening') ? true : null));
    const workers = [0, 1].map(() =>
      start(['worker', '--coordinator', address, '--coordinator-timeout', '5', '--insecure']),
    );
    await until('two joined workers', 30_000, () =>
      (coordinator.output().match(/joined from/g) ?? []).length === 2 ? true : null,
    );
    const killedAt = Date.now();
    coordinator.child.kill('SIGKILL');
    assert.deepEqual(await Promise.all(workers.map((w) => w.exit)), [1, 1]);
    const ms = Date.now() - killedAt;
    assert.ok(ms >= 5000 && ms < 15_000, `workers took ${ms} ms to stop (timeout 5 s)`);
    for (const w of workers)
      assert.match(
        w.output(),
        new RegExp(`error \\[RPC_FAILED\\]: lost the coordinator: coordinator ${address}`),
      );
  });
});
