/** The loop reports how long each step waited for its batch: data_wait_seconds and StepInfo. */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import type { Batch, BatchSource } from '../data/batch-source.js';
import { compileJobConfig } from '../config/job-config.js';
import { deriveSeed, Rng } from '../data/rng.js';
import type { MetricsRecord } from './metrics-log.js';
import { setUpRun } from './run-setup.js';
import type { StepInfo, TrainingHost } from './training-host.js';
import { runTrainingLoop, SEED_STREAM } from './training-loop.js';
import { TrainingState } from './training-state.js';

const DELAY_MS = 40;

/** `source` with every batch after the first held back by DELAY_MS: a loader slower than the step. */
function slow(source: BatchSource): BatchSource {
  return {
    shape: source.shape,
    count: source.count,
    globalBatch: source.globalBatch,
    describe: source.describe,
    stepsPerEpoch: source.stepsPerEpoch,
    maxWorldSize: source.maxWorldSize,
    shareOf: (rank, worldSize) => source.shareOf(rank, worldSize),
    async *batches(epoch, startStep, share): AsyncGenerator<Batch> {
      for await (const b of source.batches(epoch, startStep, share)) {
        await new Promise((resolve) => setTimeout(resolve, DELAY_MS));
        yield b;
      }
    },
  };
}

it('a loader slower than the step shows as data_wait_seconds, per step and per logged line', async () => {
  const flags = { model: 'ae', layers: '8', limit: '200', 'batch-size': '20', epochs: '1', 'log-every': '5' };
  const config = compileJobConfig({ flags: new Map(Object.entries(flags)), env: {}, jobFile: null });
  const base = await setUpRun(config);
  const records: MetricsRecord[] = [];
  const steps: StepInfo[] = [];
  const host: TrainingHost = {
    saveCheckpoint: async () => undefined,
    appendMetrics: async (r) => void records.push(r),
    savePicture: async () => undefined,
    stepDone: (info) => void steps.push(info),
  };
  for (const [setup, delayed] of [
    [base, false],
    [{ ...base, source: slow(base.source) }, true],
  ] as const) {
    records.length = 0;
    steps.length = 0;
    const params = setup.model.init(new Rng(deriveSeed(config.seed, SEED_STREAM.init)));
    const state = new TrainingState(setup, { params, cursor: { epoch: 0, step: 0, imagesSeen: 0 } });
    await runTrainingLoop(setup, state, {
      host,
      group: null,
      share: setup.source.shareOf(0, 1),
      progress: null,
      digestEvery: 0,
      collectiveTimeoutMs: 10_000,
    });
    assert.equal(steps.length, 10);
    assert.equal(records.length, 2);
    for (const r of records) {
      const wait = r['data_wait_seconds']!;
      if (delayed) assert.ok(wait >= (0.9 * DELAY_MS) / 1000 && wait < 1, `waited ${wait} s a step`);
      else assert.ok(wait >= 0 && wait < 0.01, `waited ${wait} s a step on an in-memory corpus`);
    }
    for (const s of steps)
      assert.ok(delayed ? s.dataWaitSeconds >= (0.9 * DELAY_MS) / 1000 : s.dataWaitSeconds < 0.01);
  }
});
