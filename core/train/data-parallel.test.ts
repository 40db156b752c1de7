/**
 * The training loop in data-parallel mode, with N ranks in this process over in-memory process
 * groups (the same ring algorithms as gRPC): N workers sharing a global batch B, evenly or not,
 * take the same steps as one worker with batch B, stochastic models too (their noise is drawn per
 * sample); replicas that drift apart are caught; a lost peer fails the step uncommitted; a drain
 * vote stops every rank after the same step.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createMemoryProcessGroups } from '../collective/memory-process-group.js';
import type { ProcessGroup } from '../collective/process-group.js';
import { compileJobConfig, type JobConfig } from '../config/job-config.js';
import { deriveSeed, Rng } from '../data/rng.js';
import type { HarmoniumError } from '../errors.js';
import type { CheckpointData } from './checkpoint.js';
import type { MetricsRecord } from './metrics-log.js';
import { applyCheckpoint } from './resume.js';
import { setUpRun, type RunSetup } from './run-setup.js';
import type { SamplesLine } from './samples-log.js';
import type { StepInfo, TrainingHost } from './training-host.js';
import { runTrainingLoop, SEED_STREAM, type LoopOptions } from './training-loop.js';
import { TrainingState, type LoopStart } from './training-state.js';

class RecordingHost implements TrainingHost {
  readonly records: MetricsRecord[] = [];
  readonly checkpoints: CheckpointData[] = [];
  readonly steps: StepInfo[] = [];
  readonly samples: SamplesLine[] = [];
  async saveCheckpoint(data: CheckpointData): Promise<void> {
    this.checkpoints.push({ ...data, params: Float32Array.from(data.params) });
  }
  async appendMetrics(record: MetricsRecord): Promise<void> {
    this.records.push(record);
  }
  async appendSamples(line: SamplesLine): Promise<void> {
    this.samples.push(line);
  }
  async savePicture(): Promise<void> {}
  stepDone(info: StepInfo): void {
    this.steps.push(info);
  }
}

function config(flags: Record<string, string>): JobConfig {
  return compileJobConfig({ flags: new Map(Object.entries(flags)), env: {}, jobFile: null });
}

/** A small autoencoder job on 2 workers, for the failure tests. */
const SMALL_TWO_WORKER_AE = {
  model: 'ae',
  layers: '16',
  epochs: '1',
  limit: '400',
  'batch-size': '20',
  workers: '2',
};

function freshStart(setup: RunSetup): LoopStart {
  return {
    params: setup.model.init(new Rng(deriveSeed(setup.config.seed, SEED_STREAM.init))),
    cursor: { epoch: 0, step: 0, imagesSeen: 0 },
  };
}

interface RankRun {
  readonly params: Float32Array;
  readonly host: RecordingHost;
  readonly state: TrainingState;
}

/** One rank's loop options on its share of the batch. */
function rankOptions(
  setup: RunSetup,
  group: ProcessGroup | null,
  host: TrainingHost,
  digestEvery = 5,
): LoopOptions {
  return {
    host,
    group,
    share: setup.source.shareOf(group?.rank ?? 0, group?.worldSize ?? 1),
    progress: null,
    digestEvery,
    collectiveTimeoutMs: 30_000,
  };
}

/** Trains `worldSize` ranks together (or one alone) from the same initial parameters. */
async function trainRanks(
  cfg: JobConfig,
  worldSize: number,
  groups: (ProcessGroup | null)[],
  adapt: (setup: RunSetup, rank: number) => void = () => undefined,
): Promise<RankRun[]> {
  const setups = await Promise.all(Array.from({ length: worldSize }, () => setUpRun(cfg)));
  setups.forEach(adapt);
  return Promise.all(
    setups.map(async (setup, rank) => {
      const state = new TrainingState(setup, freshStart(setup));
      const host = new RecordingHost();
      await runTrainingLoop(setup, state, rankOptions(setup, groups[rank] ?? null, host));
      return { params: state.params, host, state };
    }),
  );
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

describe('data-parallel training loop', () => {
  for (const [n, B] of [
    [2, 16],
    [3, 24],
    [3, 10],
  ] as const) {
    it(`${n} workers sharing a global batch of ${B} match one worker after 20 steps (ae)`, async () => {
      const base = {
        model: 'ae',
        layers: '32,8',
        epochs: '1',
        limit: String(20 * B),
        'batch-size': String(B),
        'log-every': '5',
        'checkpoint-every': '10',
        'audit-samples': 'true',
      };
      const [alone] = await trainRanks(config(base), 1, [null]);
      const ranks = await trainRanks(
        config({ ...base, workers: String(n) }),
        n,
        createMemoryProcessGroups(n),
      );
      assert.equal(alone!.host.steps.length, 20);
      for (const r of ranks) {
        assert.equal(r.host.steps.length, 20);
        // Replicas are bit-identical...
        assert.deepEqual(r.params, ranks[0]!.params);
      }
      // ...and equal to the single worker up to float32 rounding of the batch mean.
      const diff = maxAbsDiff(ranks[0]!.params, alone!.params);
      assert.ok(diff < 1e-4, `max |difference| ${diff}`);
      // Rank 0 logs the job-wide mean loss: the single worker's, to rounding.
      const r0 = ranks[0]!.host.records;
      assert.equal(r0.length, alone!.host.records.length);
      r0.forEach((rec, i) => {
        const ref = alone!.host.records[i]!;
        assert.equal(rec.step, ref.step);
        assert.ok(
          Math.abs(rec.loss - ref.loss) < 1e-3 * Math.abs(ref.loss),
          `loss ${rec.loss} vs ${ref.loss}`,
        );
        assert.ok(rec['allreduce_seconds']! >= 0);
        assert.equal(rec['world_size'], n);
      });
      // Every rank holds the committed steps' records (any of them may have to hand them on).
      for (const r of ranks.slice(1))
        assert.deepEqual(
          r.host.records.map((x) => x.loss),
          r0.map((x) => x.loss),
        );
      // The audit: every rank saw every step's whole global batch, the single worker's.
      for (const r of ranks)
        assert.deepEqual(
          r.host.samples.map((l) => l.samples),
          alone!.host.samples.map((l) => l.samples),
        );
      assert.equal(alone!.host.samples.length, 20);
      assert.equal(new Set(alone!.host.samples.flatMap((l) => l.samples)).size, 20 * B, 'no image twice');
      // Checkpoints come from rank 0 only, and hold the single worker's parameters.
      assert.deepEqual(
        ranks.map((r) => r.host.checkpoints.length),
        [2, ...Array(n - 1).fill(0)],
      );
      assert.ok(maxAbsDiff(ranks[0]!.host.checkpoints[1]!.params, alone!.params) < 1e-4);
    });
  }

  // Every draw of a step comes from (seed, step, sample), so the stochastic models follow one worker
  // too: which worker holds an image does not matter.
  const models: readonly Record<string, string>[] = [
    { model: 'stacked-ae', layers: '24,8' },
    { model: 'dbn', layers: '16,8', 'ais-betas': '0' },
    { model: 'gan', latent: '4', 'g-layers': '16', 'd-layers': '16' },
  ];
  for (const m of models) {
    it(`2 workers train ${m['model']} through its phases with identical replicas, as one worker does`, async () => {
      const base = { ...m, epochs: '1', limit: '160', 'batch-size': '16', 'log-every': '5' };
      const [alone] = await trainRanks(config(base), 1, [null]);
      const ranks = await trainRanks(config({ ...base, workers: '2' }), 2, createMemoryProcessGroups(2));
      assert.deepEqual(ranks[1]!.params, ranks[0]!.params);
      assert.notDeepEqual(
        ranks[0]!.params,
        alone!.params.map(() => 0),
      );
      // Every phase (2 for the stacks, 1 for the GAN) ran its 10 steps on both.
      const phases = m['model'] === 'gan' ? 1 : 2;
      for (const r of [alone!, ...ranks]) assert.equal(r.host.steps.length, 10 * phases);
      for (const rec of ranks[0]!.host.records) assert.ok(Number.isFinite(rec.loss));
      const diff = maxAbsDiff(ranks[0]!.params, alone!.params);
      assert.ok(diff < 1e-4, `max |difference| from one worker ${diff}`);
    });
  }

  it('a PCD RBM on 3 uneven shares follows one worker; its particles checkpoint as one batch', async () => {
    const base = {
      model: 'rbm',
      hidden: '32',
      persistent: 'true',
      epochs: '1',
      limit: '2000',
      'batch-size': '20',
      'log-every': '25',
    };
    const [alone] = await trainRanks(config(base), 1, [null]);
    const ranks = await trainRanks(config({ ...base, workers: '3' }), 3, createMemoryProcessGroups(3));
    const a = alone!.host.records.map((r) => r.loss);
    const d = ranks[0]!.host.records.map((r) => r.loss);
    assert.equal(d.length, a.length);
    // The first records agree to rounding; then a Gibbs sample whose uniform lies within rounding
    // of its probability flips, and the persistent chains carry the flip on: close, not equal.
    assert.ok(Math.abs(d[0]! - a[0]!) < 1e-4 * a[0]!, `first record: ${d[0]} vs ${a[0]}`);
    for (let i = 1; i < a.length; i++)
      assert.ok(Math.abs(d[i]! - a[i]!) < 0.05 * a[i]!, `${i}: ${d[i]} vs ${a[i]}`);
    assert.ok(d[d.length - 1]! < 0.8 * d[0]!, 'the loss falls');
    const ckpt = ranks[0]!.host.checkpoints.at(-1)!;
    const single = alone!.host.checkpoints.at(-1)!.modelState!;
    assert.equal(ckpt.modelState!.length, 20 * 784, "every rank's particles, the layout of a batch of 20");
    let differ = 0;
    for (let i = 0; i < single.length; i++) if (single[i] !== ckpt.modelState![i]) differ++;
    assert.ok(differ < single.length / 5, `${differ} particle values differ from one worker's`);
    // ...which a 2-rank resume splits by its shares: rank 1 takes positions [10, 20).
    const setup = await setUpRun(config({ ...base, workers: '2', resume: 'true' }));
    const start = applyCheckpoint(setup, ckpt, 'test');
    assert.equal(start.cursor.step, 100);
    const state = new TrainingState(setup, start);
    state.restore(setup.source.shareOf(1, 2));
    assert.deepEqual(setup.model.saveState!(), ckpt.modelState!.slice(10 * 784));
  });

  for (const wire of ['bf16', 'fp16'] as const) {
    it(`on a ${wire} wire 3 uneven shares keep bit-identical replicas, a float32 loss and the exact audit, close to float32's run`, async () => {
      const base = {
        model: 'ae',
        layers: '32,8',
        epochs: '1',
        limit: '400',
        'batch-size': '10',
        'log-every': '5',
        'audit-samples': 'true',
        workers: '3',
      };
      const [full, half] = await Promise.all([
        trainRanks(config(base), 3, createMemoryProcessGroups(3)),
        trainRanks(config({ ...base, 'allreduce-dtype': wire }), 3, createMemoryProcessGroups(3)),
      ]);
      for (const r of half!) assert.deepEqual(r.params, half![0]!.params);
      assert.notDeepEqual(half![0]!.params, full![0]!.params, 'the gradients were rounded');
      // Adam moves a parameter by at most about lr = 1e-3 a step, 0.04 in 40 steps; the rounding
      // (fp16's underflow of the smallest gradients too) moves none by an eighth of that.
      const diff = maxAbsDiff(half![0]!.params, full![0]!.params);
      assert.ok(diff < 5e-3, `max |difference| from float32 ${diff}`);
      const losses = (run: RankRun[]) => run[0]!.host.records.map((x) => x.loss);
      const [a, b] = [losses(full!), losses(half!)];
      assert.equal(b.length, a.length);
      b.forEach((l, i) => assert.ok(Math.abs(l - a[i]!) < 2e-3 * a[i]!, `record ${i}: ${l} vs ${a[i]}`));
      assert.deepEqual(
        half![0]!.host.samples.map((l) => l.samples),
        full![0]!.host.samples.map((l) => l.samples),
      );
      // Bytes put through the all-reduce: the gradients at 2 bytes each, the rest as float32.
      const params = full![0]!.params.length;
      assert.equal(full![0]!.host.steps[0]!.allreduceBytes, 4 * (params + 2) + 4 * 2 * 10);
      assert.equal(half![0]!.host.steps[0]!.allreduceBytes, 2 * params + 4 * 2 + 4 * 2 * 10);
    });
  }

  for (const [model, n, B, wire] of [
    ['ae', 2, 20, 'float32'],
    ['deep-ae', 4, 18, 'bf16'],
    ['ae', 3, 20, 'fp16'],
  ] as const) {
    it(`gradient buckets all-reduced during the backward pass give the parameters of one all-reduce after it, bit for bit (${model}, ${n} ranks, ${wire})`, async () => {
      const base = {
        model,
        ...(model === 'ae' ? { layers: '64,16' } : { layers: '48', code: '8', pretrain: 'none' }),
        epochs: '1',
        limit: '360',
        'batch-size': String(B),
        'log-every': '6',
        'allreduce-dtype': wire,
        workers: String(n),
      };
      const calls: number[][] = [];
      // Per rank: whether its model's backward pass is under way, and the bucket calls started then.
      const inBackward: boolean[] = [];
      const duringBackward: number[] = [];
      const counted = createMemoryProcessGroups(n).map((g, r): ProcessGroup => {
        calls[r] = [];
        duringBackward[r] = 0;
        return {
          rank: g.rank,
          worldSize: g.worldSize,
          generation: g.generation,
          allreduce: (data, op, opts) => {
            if (opts.interleave) calls[r]!.push(data.length);
            if (opts.interleave && inBackward[r]) duringBackward[r]!++;
            return g.allreduce(data, op, opts);
          },
          broadcast: (data, root, opts) => g.broadcast(data, root, opts),
          barrier: (opts) => g.barrier(opts),
          close: () => g.close(),
        };
      });
      const [whole, bucketed] = await Promise.all([
        trainRanks(config({ ...base, 'bucket-mb': '0' }), n, createMemoryProcessGroups(n)),
        trainRanks(config({ ...base, 'bucket-mb': '0.01' }), n, counted, (setup, r) => {
          const model = setup.model;
          const layered = model.stepLayered!.bind(model);
          (model as { stepLayered: typeof model.stepLayered }).stepLayered = (...args) => {
            const step = layered(...args)!;
            inBackward[r] = true;
            return {
              loss: step.loss,
              ...(step.extras ? { extras: step.extras } : {}),
              grads: step.grads,
              get done() {
                return step.done;
              },
              backward: () => {
                const ready = step.backward();
                inBackward[r] = !step.done;
                return ready;
              },
            };
          };
        }),
      ]);
      const steps = whole![0]!.host.steps.length;
      assert.ok(calls[0]!.length >= 4 * steps, `${calls[0]!.length} bucket calls in ${steps} steps`);
      // Overlap: in every step some bucket started while layers below still had to run their backward pass.
      for (let r = 0; r < n; r++) {
        assert.ok(
          duringBackward[r]! >= steps,
          `rank ${r}: ${duringBackward[r]} buckets started during ${steps} backward passes`,
        );
      }
      for (const r of bucketed!) {
        assert.deepEqual(new Uint32Array(r.params.buffer), new Uint32Array(whole![0]!.params.buffer));
      }
      const losses = (run: RankRun[]) => run[0]!.host.records.map((x) => x.loss);
      assert.deepEqual(losses(bucketed!), losses(whole!));
      for (const x of bucketed![0]!.host.records) {
        assert.ok(x['allreduce_exposed_seconds']! <= x['allreduce_seconds']! + 1e-9, JSON.stringify(x));
      }
    });
  }

  it('gradients past what fp16 carries stop every rank with a ConfigError naming --allreduce-dtype', async () => {
    const cfg = config({ ...SMALL_TWO_WORKER_AE, 'allreduce-dtype': 'fp16', optimizer: 'sgd', lr: '500' });
    const groups = createMemoryProcessGroups(2);
    const setups = await Promise.all([0, 1].map(() => setUpRun(cfg)));
    const results = await Promise.allSettled(
      setups.map((setup, rank) =>
        runTrainingLoop(
          setup,
          new TrainingState(setup, freshStart(setup)),
          rankOptions(setup, groups[rank]!, new RecordingHost(), 0),
        ),
      ),
    );
    for (const r of results) {
      assert.equal(r.status, 'rejected');
      const err = (r as PromiseRejectedResult).reason as HarmoniumError;
      assert.equal(err.code, 'CONFIG_INVALID', err.message);
      assert.match(err.message, /after the fp16 all-reduce at step \d+ .* use --allreduce-dtype bf16/);
    }
  });

  it('local SGD (--sync-every 5) on 3 uneven shares: identical replicas at every sync, every step logged and audited once, 5x fewer bytes, close to synchronous', async () => {
    const base = {
      model: 'ae',
      layers: '32,8',
      epochs: '2',
      limit: '300',
      'batch-size': '10',
      'log-every': '5',
      'audit-samples': 'true',
      'checkpoint-every': '20',
      workers: '3',
    };
    const [sync, local] = await Promise.all([
      trainRanks(config(base), 3, createMemoryProcessGroups(3)),
      trainRanks(config({ ...base, 'sync-every': '5' }), 3, createMemoryProcessGroups(3)),
    ]);
    for (const r of local!) assert.deepEqual(r.params, local![0]!.params);
    const r0 = local![0]!.host;
    assert.deepEqual(
      r0.steps.map((s) => s.step),
      Array.from({ length: 60 }, (_, i) => i + 1),
    );
    assert.deepEqual(
      r0.samples.map((l) => l.samples),
      sync![0]!.host.samples.map((l) => l.samples),
      'the same global batches, every image of every step once',
    );
    assert.deepEqual(
      r0.records.map((x) => x.step),
      sync![0]!.host.records.map((x) => x.step),
    );
    const bytes = (run: RankRun[]) => run[0]!.host.steps.reduce((n, s) => n + s.allreduceBytes, 0);
    assert.ok(
      bytes(sync!) > 4.5 * bytes(local!),
      `${bytes(sync!)} bytes synchronous, ${bytes(local!)} local`,
    );
    const [ls, ll] = [sync![0]!.host.records.at(-1)!.loss, r0.records.at(-1)!.loss];
    assert.ok(ll < 1.1 * ls, `last logged loss ${ll} with local SGD, ${ls} synchronous`);
    // Checkpoints at steps 20, 40 and 60 hold the synced parameters and the outer momentum.
    assert.deepEqual(
      r0.checkpoints.map((c) => c.cursor.step),
      [20, 40, 60],
    );
    assert.deepEqual(r0.checkpoints.at(-1)!.params, local![0]!.params);
    assert.ok(r0.checkpoints.at(-1)!.optimizer.state['outer_velocity'] instanceof Float32Array);
  });

  it('a local-SGD round that does not reach its sync is rolled back: parameters, optimizer and cursor', async () => {
    const cfg = config({ ...SMALL_TWO_WORKER_AE, 'sync-every': '5' });
    const groups = createMemoryProcessGroups(2);
    const setup = await setUpRun(cfg);
    const state = new TrainingState(setup, freshStart(setup));
    const before = Float32Array.from(state.params);
    const host = new RecordingHost();
    const run = runTrainingLoop(setup, state, {
      ...rankOptions(setup, groups[0]!, host, 0),
      collectiveTimeoutMs: 20_000,
    });
    // Rank 1 never trains: rank 0 takes its 5 inner steps, then waits at the sync until rank 1 leaves.
    while (state.cursor.step < 5) await new Promise((r) => setTimeout(r, 5));
    assert.notDeepEqual(state.params, before, 'the inner steps moved the parameters');
    await groups[1]!.close();
    await assert.rejects(run, (err: HarmoniumError) => err.code === 'COLLECTIVE_LINK');
    assert.equal(host.steps.length, 0, 'no step of the round was reported as committed');
    state.restore(setup.source.shareOf(0, 2));
    assert.equal(state.cursor.step, 0);
    assert.deepEqual(state.params, before);
    assert.deepEqual(state.optimizerState(), new TrainingState(setup, freshStart(setup)).optimizerState());
  });

  it('replicas that drift apart stop the job with REPLICA_DIVERGED on every rank', async () => {
    const cfg = config(SMALL_TWO_WORKER_AE);
    const groups = createMemoryProcessGroups(2);
    const setups = await Promise.all([0, 1].map(() => setUpRun(cfg)));
    // Rank 1's model nudges its own parameters: a nondeterministic replica.
    const rogue = setups[1]!.model;
    // In a group the loop takes the layered step; the plain one is the fallback.
    const layered = rogue.stepLayered!.bind(rogue);
    (rogue as { stepLayered: typeof rogue.stepLayered }).stepLayered = (params, batch, size, rng, out) => {
      params[0] = params[0]! + 1e-3;
      return layered(params, batch, size, rng, out);
    };
    const results = await Promise.allSettled(
      setups.map((setup, rank) =>
        runTrainingLoop(
          setup,
          new TrainingState(setup, freshStart(setup)),
          rankOptions(setup, groups[rank]!, new RecordingHost(), 3),
        ),
      ),
    );
    for (const r of results) {
      assert.equal(r.status, 'rejected');
      const err = (r as PromiseRejectedResult).reason as HarmoniumError;
      assert.equal(err.code, 'REPLICA_DIVERGED');
      assert.match(err.message, /step 3: rank\(s\) 1 differ from rank 0/);
    }
  });

  it('a peer that leaves fails the other ranks at once with COLLECTIVE_LINK naming it, the step uncommitted', async () => {
    const cfg = config(SMALL_TWO_WORKER_AE);
    const groups = createMemoryProcessGroups(2);
    const setup = await setUpRun(cfg);
    const state = new TrainingState(setup, freshStart(setup));
    const before = Float32Array.from(state.params);
    const t0 = Date.now();
    const run = runTrainingLoop(setup, state, {
      ...rankOptions(setup, groups[0]!, new RecordingHost(), 0),
      collectiveTimeoutMs: 20_000,
    });
    await groups[1]!.close();
    await assert.rejects(run, (err: HarmoniumError) => {
      assert.equal(err.code, 'COLLECTIVE_LINK');
      assert.match(err.message, /rank 1/);
      return true;
    });
    assert.ok(Date.now() - t0 < 5000, 'well before the 20 s deadline');
    assert.equal(state.cursor.step, 0, 'nothing committed');
    assert.deepEqual(state.params, before);
  });

  it('one rank voting to drain stops every rank after the same committed step', async () => {
    const cfg = config({ ...SMALL_TWO_WORKER_AE, workers: '3', 'batch-size': '21' });
    const groups = createMemoryProcessGroups(3);
    const setups = await Promise.all([0, 1, 2].map(() => setUpRun(cfg)));
    const states = setups.map((setup) => new TrainingState(setup, freshStart(setup)));
    const results = await Promise.all(
      setups.map((setup, rank) =>
        runTrainingLoop(setup, states[rank]!, {
          ...rankOptions(setup, groups[rank]!, new RecordingHost(), 0),
          drainRequested: () => rank === 2 && states[rank]!.cursor.step >= 6,
        }),
      ),
    );
    assert.deepEqual(
      results.map((r) => r.ended),
      ['drained', 'drained', 'drained'],
    );
    assert.deepEqual(
      states.map((s) => s.cursor.step),
      [7, 7, 7],
    );
    assert.deepEqual(states[1]!.params, states[0]!.params);
  });
});
