/**
 * Elastic training end to end: real coordinator and worker processes on loopback, real signals.
 * A worker killed (-9), stopped (SIGSTOP), asked to leave (SIGTERM), lost twice, lost during the
 * rendezvous, or one joining mid-job, on an in-memory corpus or shards streamed over HTTP: every job succeeds without restarting the workers that
 * survive, commits every step once (samples.jsonl: steps 0..T-1 once each, no image twice in an
 * epoch), and ends with the parameters of an undisturbed run of the same job to float rounding.
 * Below --min-workers for longer than --rendezvous-timeout the job fails, naming the lost worker.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { startFileServer } from '../core/data/testing.js';
import { readSamplesLog } from '../core/train/samples-log.js';
import { harmonium, readJson, readJsonLines } from './cli-helpers.js';
import { loggedStep, SMALL_AE, smallAeJob } from './jobs.js';
import { childPids, Cluster, floats, maxAbsDiff, start, until } from './processes.js';

const tmp = mkdtempSync(join(tmpdir(), 'harmonium-elastic-'));
const FMNIST = '/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz';
const BATCH = SMALL_AE.batch;
const STEPS_PER_EPOCH = SMALL_AE.stepsPerEpoch;
const job = (epochs: number): string[] => smallAeJob(epochs, { logEvery: 5, digestEvery: 10 });

/** Reference weights of an undisturbed single-process run, by epoch count. */
const reference = new Map<number, Float32Array>();

/**
 * Parameters after a few hundred steps agree to this between world sizes: the ring sums the shares'
 * float32 gradients in another order than one process's batch mean, a few ulps a step (measured:
 * 3e-7 after 200 steps, 1 against 3 workers).
 */
const PARAM_TOLERANCE = 1e-4;

/** Checks the records of a job in `out`; `againstReference` false for a run whose result depends on its world sizes (local SGD). */
function checkRun(out: string, epochs: number, againstReference = true): Record<string, unknown> {
  const s = readJson(join(out, 'summary.json'));
  const steps = epochs * STEPS_PER_EPOCH;
  assert.equal(s['steps'], steps);
  const lines = readSamplesLog(join(out, 'samples.jsonl'));
  assert.deepEqual(
    lines.map((l) => l.step),
    Array.from({ length: steps }, (_, i) => i),
    'every step committed exactly once',
  );
  for (let e = 0; e < epochs; e++) {
    const seen = lines.filter((l) => l.epoch === e).flatMap((l) => l.samples);
    assert.equal(seen.length, STEPS_PER_EPOCH * BATCH);
    assert.equal(new Set(seen).size, seen.length, `no image twice in epoch ${e}`);
  }
  const metricSteps = readJsonLines(join(out, 'metrics.jsonl')).map((l) => l['step']!);
  assert.equal(new Set(metricSteps).size, metricSteps.length, 'no metrics.jsonl step twice');
  assert.deepEqual(
    metricSteps,
    [...metricSteps].sort((a, b) => a - b),
  );
  if (againstReference) {
    const diff = maxAbsDiff(floats(join(out, 'checkpoint', 'weights.bin')), reference.get(epochs)!);
    assert.ok(diff < PARAM_TOLERANCE, `max |parameter difference| from the undisturbed run: ${diff}`);
  }
  return s;
}

/** Pids of the members of generation `g`, from the coordinator's rendezvous line. */
function membersOf(output: string, g: number): number[] {
  const line = output.split('\n').find((l) => l.includes(`rendezvous, generation ${g}:`));
  assert.ok(line, `generation ${g} was formed`);
  return [...line.matchAll(/ pid (\d+)/g)].map((m) => Number(m[1]));
}

/** The members of generation `g` but `gone` are members of generation `g + 1`: nobody was restarted. */
function assertKept(output: string, g: number, gone: readonly number[]): void {
  const next = membersOf(output, g + 1);
  for (const pid of membersOf(output, g).filter((p) => !gone.includes(p))) {
    assert.ok(next.includes(pid), `pid ${pid} of generation ${g} continues in generation ${g + 1}`);
  }
}

describe('elastic training (real processes, loopback gRPC)', () => {
  before(() => {
    for (const epochs of [4, 6]) {
      const out = join(tmp, `reference-${epochs}`);
      const r = harmonium(['train', ...job(epochs), '--out', out]);
      assert.equal(r.status, 0, r.stderr);
      reference.set(epochs, Float32Array.from(floats(join(out, 'checkpoint', 'weights.bin'))));
    }
  });

  it('kill -9 of a worker: the job re-forms without it in place and the launcher replaces it', async () => {
    const out = join(tmp, 'kill');
    const run = start(['train', ...job(6), '--workers', '3', '--out', out]);
    const pids = await until('3 workers', 60_000, () => {
      const p = childPids(run.child.pid!);
      return p.length === 3 ? p : null;
    }).catch((err: Error) => {
      throw new Error(`${err.message}: ${run.output()}`);
    });
    await until('step 40', 120_000, () => (loggedStep(out) >= 40 ? true : null));
    const victim = membersOf(run.output(), 1)[1]!;
    const killedAt = Date.now();
    process.kill(victim, 'SIGKILL');
    await until('generation 2', 30_000, () =>
      run.output().includes('rendezvous, generation 2:') ? true : null,
    );
    const survivors = pids.filter((p) => p !== victim);
    assert.deepEqual(membersOf(run.output(), 2).sort(), survivors, 'the survivors, not restarted');
    assert.ok(Date.now() - killedAt < 5000, `re-formed after ${Date.now() - killedAt} ms`);
    assert.equal(await run.exit, 0, run.output());
    const s = checkRun(out, 6);
    const failures = s['failures'] as Array<Record<string, unknown>>;
    assert.deepEqual(
      failures.map((f) => f['reason']),
      ['exited'],
    );
    assert.equal((s['world_sizes'] as Array<{ workers: number }>)[1]!.workers, 2);
    assert.ok((s['steps_redone'] as number) <= 1);
    assert.match(run.output(), /exited with SIGKILL; starting a replacement/, 'the launcher replaces it');
    assert.deepEqual(childPids(run.child.pid!), [], 'no worker left running');
  });

  it('local SGD (--sync-every 10): a worker killed mid-round; the survivors redo the round from its sync, every step once', async () => {
    const out = join(tmp, 'local-sgd');
    const run = start(['train', ...job(4), '--sync-every', '10', '--workers', '3', '--out', out]);
    await until('step 30', 120_000, () => (loggedStep(out) >= 30 ? true : null)).catch((err: Error) => {
      throw new Error(`${err.message}: ${run.output()}`);
    });
    // Half a round after a sync: rank 1 holds inner steps nobody has committed.
    await new Promise((r) => setTimeout(r, 150));
    process.kill(membersOf(run.output(), 1)[1]!, 'SIGKILL');
    assert.equal(await run.exit, 0, run.output());
    const s = checkRun(out, 4, false);
    assert.deepEqual(
      (s['failures'] as Array<Record<string, unknown>>).map((f) => f['reason']),
      ['exited'],
    );
    const redone = s['steps_redone'] as number;
    assert.ok(redone <= 10, `${redone} steps redone: at most the round in flight`);
    assert.match(
      run.output(),
      /generation 1 of job .* ended at step [0-9]*0:/,
      'rolled back to a sync (a multiple of 10)',
    );
    const records = readJsonLines(join(out, 'metrics.jsonl'));
    assert.ok(records.every((r) => Number.isFinite(r['loss'])));
    assert.ok(records.at(-1)!['loss']! < records[0]!['loss']!, 'it trains');
  });

  it('kill -9 of a worker on a shard corpus streamed over HTTP: every step once, every image once an epoch', async () => {
    // The first 3,000 Fashion-MNIST images in 12 shards of 250: 4 of them per lane and epoch.
    const full = gunzipSync(readFileSync(FMNIST));
    const header = Buffer.from(full.subarray(0, 16));
    header.writeUInt32BE(SMALL_AE.limit, 4);
    const idx = join(tmp, 'small-images-idx3-ubyte');
    writeFileSync(idx, Buffer.concat([header, full.subarray(16, 16 + SMALL_AE.limit * 784)]));
    const dir = join(tmp, 'shards');
    const packed = harmonium(['data', 'pack', `idx:${idx}`, '--out', dir, '--shard-size', '250']);
    assert.equal(packed.status, 0, packed.stderr);
    const server = await startFileServer(dir);
    try {
      const out = join(tmp, 'kill-shards');
      const run = start([
        ...['train', ...job(4), '--data', `shards:${server.url}`, '--shard-cache', join(tmp, 'cache')],
        ...['--workers', '3', '--out', out],
      ]);
      await until('step 40', 120_000, () => (loggedStep(out) >= 40 ? true : null)).catch((err: Error) => {
        throw new Error(`${err.message}: ${run.output()}`);
      });
      process.kill(membersOf(run.output(), 1)[1]!, 'SIGKILL');
      assert.equal(await run.exit, 0, run.output());
      // The order of a shard corpus is not an in-memory one's: no reference run to compare with.
      const s = checkRun(out, 4, false);
      assert.deepEqual(
        (s['failures'] as Array<Record<string, unknown>>).map((f) => f['reason']),
        ['exited'],
      );
      assert.ok(
        server.requests.some((r) => r.range !== null),
        'the shards came over HTTP',
      );
    } finally {
      await server.close();
    }
  });

  it('SIGSTOP: the stopped worker is declared hung and fenced; SIGCONT sends it back to the pool', async () => {
    const cluster = await Cluster.start();
    try {
      await Promise.all([0, 1, 2].map(() => cluster.addWorker()));
      const out = join(tmp, 'stop');
      const id = await cluster.submit([
        ...job(6),
        '--workers',
        '3',
        '--heartbeat-timeout',
        '2',
        '--out',
        out,
      ]);
      await until('step 30', 120_000, () => (loggedStep(out) >= 30 ? true : null));
      const victim = await cluster.pidOfRank(id, 1);
      const stoppedAt = Date.now();
      process.kill(victim, 'SIGSTOP');
      await until('generation 2', 30_000, async () =>
        (await cluster.job(id)).generation! >= 2 ? true : null,
      );
      const seconds = (Date.now() - stoppedAt) / 1000;
      assert.ok(seconds < 2 + 3, `re-formed ${seconds} s after the stop (heartbeat timeout 2 s)`);
      process.kill(victim, 'SIGCONT');
      const stopped = cluster.workers.find((w) => w.child.pid === victim)!;
      await until('the fenced worker to say so', 30_000, () =>
        /fenced/.test(stopped.output()) ? true : null,
      );
      const info = await cluster.ended(id, 120_000);
      assert.equal(info.state, 'SUCCEEDED', info.message + cluster.coordinator.output());
      const s = checkRun(out, 6);
      assert.deepEqual(
        (s['failures'] as Array<Record<string, unknown>>).map((f) => f['reason']),
        ['hung'],
      );
      assert.equal(stopped.child.exitCode, null, 'the fenced worker stays in the pool');
      assertKept(cluster.coordinator.output(), 1, [victim]);
      for (const w of cluster.workers) assert.equal(w.child.exitCode, null, 'no worker process ended');
    } finally {
      await cluster.stop();
    }
  });

  it('a worker joins a running job at a step boundary; SIGTERM makes one leave with no step lost', async () => {
    const cluster = await Cluster.start();
    try {
      await Promise.all([0, 1].map(() => cluster.addWorker()));
      const out = join(tmp, 'join-leave');
      const id = await cluster.submit([
        ...job(6),
        '--workers',
        '3',
        '--min-workers',
        '2',
        '--rendezvous-timeout',
        '1',
        '--out',
        out,
      ]);
      await until('step 20', 120_000, () => (loggedStep(out) >= 20 ? true : null));
      await cluster.addWorker();
      await until('3 members', 60_000, async () => ((await cluster.job(id)).worldSize === 3 ? true : null));
      const at = loggedStep(out);
      await until('a few more steps', 60_000, () => (loggedStep(out) >= at + 10 ? true : null));
      const leaver = cluster.workers.find(
        (w) => w.child.pid === membersOf(cluster.coordinator.output(), 2)[0],
      )!;
      const generation = (await cluster.job(id)).generation!;
      leaver.child.kill('SIGTERM');
      assert.equal(await leaver.exit, 0, leaver.output());
      const info = await cluster.ended(id, 120_000);
      assert.equal(info.state, 'SUCCEEDED', info.message);
      assert.equal(info.failures, 0, 'a graceful leave is not a failure');
      const s = checkRun(out, 6);
      assert.deepEqual(
        (s['world_sizes'] as Array<{ workers: number }>).map((w) => w.workers),
        [2, 3, 2],
      );
      assert.equal(s['steps_redone'], 0);
      assert.deepEqual(
        (s['failures'] as Array<Record<string, unknown>>).map((f) => f['reason']),
        ['left'],
      );
      assertKept(cluster.coordinator.output(), generation, [leaver.child.pid!]);
    } finally {
      await cluster.stop();
    }
  });

  it('two losses in one job, the first during the rendezvous', async () => {
    const cluster = await Cluster.start();
    try {
      await Promise.all([0, 1, 2, 3].map(() => cluster.addWorker()));
      const out = join(tmp, 'twice');
      const id = await cluster.submit([...job(4), '--workers', '4', '--out', out]);
      await until('the rendezvous', 30_000, async () =>
        (await cluster.job(id)).generation! >= 1 ? true : null,
      );
      const first = await cluster.pidOfRank(id, 3);
      process.kill(first, 'SIGKILL');
      await until('step 20', 120_000, () => (loggedStep(out) >= 20 ? true : null));
      const g = (await cluster.job(id)).generation!;
      const second = await cluster.pidOfRank(id, 0);
      process.kill(second, 'SIGKILL');
      const info = await cluster.ended(id, 120_000);
      assert.equal(info.state, 'SUCCEEDED', info.message + cluster.coordinator.output());
      const s = checkRun(out, 4);
      const failures = s['failures'] as Array<Record<string, number | string>>;
      assert.equal(failures.length, 2, cluster.coordinator.output());
      assert.equal(failures[0]!['generation'], 1);
      assert.equal(failures[1]!['generation'], g);
      assert.equal(failures[1]!['rank'], 0, 'rank 0 itself; the next rank 0 wrote the rest of the logs');
      assertKept(cluster.coordinator.output(), 1, [first]);
      assertKept(cluster.coordinator.output(), g, [second]);
    } finally {
      await cluster.stop();
    }
  });

  it('below --min-workers for longer than --rendezvous-timeout the job fails, naming the lost worker', async () => {
    const cluster = await Cluster.start();
    try {
      await Promise.all([0, 1].map(() => cluster.addWorker()));
      const out = join(tmp, 'below-min');
      const id = await cluster.submit([
        ...job(20),
        '--workers',
        '2',
        '--min-workers',
        '2',
        '--rendezvous-timeout',
        '2',
        '--out',
        out,
      ]);
      await until('step 10', 120_000, () => (loggedStep(out) >= 10 ? true : null));
      const victim = await cluster.pidOfRank(id, 1);
      const killedAt = Date.now();
      process.kill(victim, 'SIGKILL');
      const info = await cluster.ended(id, 30_000);
      const seconds = (Date.now() - killedAt) / 1000;
      assert.equal(info.state, 'FAILED');
      assert.match(info.message!, new RegExp(`fewer than --min-workers 2 workers for 2 s .*pid ${victim}`));
      assert.ok(seconds >= 2 && seconds < 8, `failed ${seconds} s after the loss`);
    } finally {
      await cluster.stop();
    }
  });

  it('rank 0 lost while it evaluates: another worker evaluates the final checkpoint', async () => {
    const cluster = await Cluster.start();
    try {
      await Promise.all([0, 1].map(() => cluster.addWorker()));
      const out = join(tmp, 'evaluator');
      const args = job(2).map((a) => (a === '100' ? '0' : a)); // the whole test set: an evaluation of seconds
      const id = await cluster.submit([...args, '--workers', '2', '--out', out]);
      await until('the evaluation', 120_000, () =>
        /training finished; .* evaluates/.test(cluster.coordinator.output()) ? true : null,
      );
      const evaluator = Number(
        /training finished; worker \S+ \(rank 0, \S+ pid (\d+)/.exec(cluster.coordinator.output())![1],
      );
      process.kill(evaluator, 'SIGKILL');
      const info = await cluster.ended(id, 120_000);
      assert.equal(info.state, 'SUCCEEDED', info.message);
      assert.match(cluster.coordinator.output(), /evaluates the final checkpoint/);
      const s = readJson(join(out, 'summary.json'));
      assert.ok((s['test'] as Record<string, number>)['sse_per_image']! > 0);
      assert.equal(s['steps'], 2 * STEPS_PER_EPOCH);
    } finally {
      await cluster.stop();
    }
  });
});
