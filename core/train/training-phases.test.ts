/**
 * Models trained in stages: the loop runs each phase for its epochs with a fresh optimizer, its own
 * settings and momentum switch, tells the model which phase it is in, and resumes bit-exactly from
 * a checkpoint taken inside a phase or on a phase boundary.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compileJobConfig } from '../config/job-config.js';
import type { Rng } from '../data/rng.js';
import type { Model, ParamSpec, StepResult, TrainingPhase } from '../models/model.js';
import type { CheckpointData } from './checkpoint.js';
import type { MetricsRecord } from './metrics-log.js';
import { applyCheckpoint } from './resume.js';
import { setUpRun, type RunSetup } from './run-setup.js';
import type { TrainingHost } from './training-host.js';
import { runTrainingLoop } from './training-loop.js';
import { TrainingState, type LoopStart } from './training-state.js';
import { describePhases, phaseAtStep, planPhases } from './training-phases.js';

/**
 * Two parameter pairs pulled towards targets by a quadratic loss: phase 0 trains `a` with its own
 * SGD settings, phase 1 trains `b` with the job's. The gradient also depends on the batch, so a
 * resumed run that saw other batches would differ.
 */
class TwoStageModel implements Model {
  readonly kind = 'ae';
  readonly inputSize = 784;
  readonly codeSize = 0;
  readonly hyper = {};
  readonly paramSpecs: readonly ParamSpec[] = [
    { name: 'a', shape: [2] },
    { name: 'b', shape: [2] },
  ];
  readonly phases: readonly TrainingPhase[] = [
    {
      name: 'first',
      epochs: 2,
      training: { optimizer: 'sgd', lr: 0.2, momentum: 0.5, finalMomentum: 0.9, momentumSwitchEpoch: 1 },
    },
    { name: 'second', epochs: null, training: null },
  ];
  readonly phaseCalls: number[] = [];
  private phase = -1;

  init(): Float32Array {
    return Float32Array.of(1, -1, 2, -2);
  }
  setPhase(index: number): void {
    this.phaseCalls.push(index);
    this.phase = index;
  }
  step(
    params: Float32Array,
    batch: Float32Array,
    batchSize: number,
    _rng: Rng,
    out?: Float32Array,
  ): StepResult {
    const grads = out ?? new Float32Array(params.length);
    grads.fill(0);
    let mean = 0;
    for (let i = 0; i < batchSize; i++) mean += batch[i * this.inputSize + 400]!;
    mean /= batchSize;
    const at = this.phase === 0 ? 0 : 2;
    let loss = 0;
    for (let j = at; j < at + 2; j++) {
      const d = params[j]! - mean;
      grads[j] = d;
      loss += d * d;
    }
    return { loss, grads };
  }
  decode(_params: Float32Array, _codes: Float32Array, count: number): Float32Array {
    return new Float32Array(count * this.inputSize);
  }
}

class RecordingHost implements TrainingHost {
  readonly records: MetricsRecord[] = [];
  readonly checkpoints: CheckpointData[] = [];
  async saveCheckpoint(data: CheckpointData): Promise<void> {
    this.checkpoints.push({ ...data, params: Float32Array.from(data.params) });
  }
  async appendMetrics(record: MetricsRecord): Promise<void> {
    this.records.push(record);
  }
  async savePicture(): Promise<void> {}
  stepDone(): void {}
}

/** 4 steps per epoch; the job's phase: 3 epochs of Adam. */
async function twoStageSetup(): Promise<{ setup: RunSetup; model: TwoStageModel }> {
  const flags = { model: 'ae', limit: '40', 'batch-size': '10', epochs: '3', optimizer: 'adam', lr: '0.05' };
  const config = compileJobConfig({ flags: new Map(Object.entries(flags)), env: {}, jobFile: null });
  const base = await setUpRun(config);
  const model = new TwoStageModel();
  const phases = planPhases(model, config, base.stepsPerEpoch, () => 0.05);
  return { setup: { ...base, model, phases, totalSteps: 20 }, model };
}

async function train(setup: RunSetup, start: LoopStart): Promise<RecordingHost> {
  const host = new RecordingHost();
  await runTrainingLoop(setup, new TrainingState(setup, start), {
    host,
    group: null,
    share: setup.source.shareOf(0, 1),
    progress: null,
    digestEvery: 0,
    collectiveTimeoutMs: 10_000,
  });
  return host;
}

describe('training phases', () => {
  it('places the phases on the step axis', async () => {
    const { setup } = await twoStageSetup();
    const [first, second] = setup.phases;
    assert.deepEqual([first!.firstEpoch, first!.epochs, first!.firstStep, first!.steps], [0, 2, 0, 8]);
    assert.deepEqual([second!.firstEpoch, second!.epochs, second!.firstStep, second!.steps], [2, 3, 8, 12]);
    assert.equal(second!.training.optimizer, 'adam');
    assert.equal(first!.lrSchedule(3, 8), 0.2);
    assert.equal(phaseAtStep(setup.phases, 7).index, 0);
    assert.equal(phaseAtStep(setup.phases, 8).index, 1);
    assert.equal(phaseAtStep(setup.phases, 20).index, 1);
    assert.equal(describePhases(setup.phases), '5 epochs in 2 phases (first: 2, second: 3)');
  });

  it('trains each phase with its own optimizer and leaves the other parameters alone', async () => {
    const { setup, model } = await twoStageSetup();
    const params = model.init();
    const host = await train(setup, { params, cursor: { epoch: 0, step: 0, imagesSeen: 0 } });
    assert.deepEqual(model.phaseCalls, [0, 1]);
    // Phase 0's SGD momentum switches after its first epoch; phase 1 is Adam (no momentum).
    const byStep = new Map(host.records.map((r) => [r.step, r]));
    assert.equal(byStep.get(4)!['momentum'], 0.5);
    assert.equal(byStep.get(8)!['momentum'], 0.9);
    assert.equal(byStep.get(8)!['phase'], 0);
    assert.equal(byStep.get(12)!['phase'], 1);
    assert.equal(byStep.get(12)!['momentum'], undefined);
    // `a` was trained by phase 0 and then frozen: its value at the boundary checkpoint is final,
    // so phase 0's momentum did not carry into phase 1.
    const boundary = host.checkpoints.find((c) => c.cursor.step === 8)!;
    assert.deepEqual(params.subarray(0, 2), boundary.params.subarray(0, 2));
    assert.notDeepEqual(Array.from(boundary.params.subarray(0, 2)), [1, -1]);
    assert.deepEqual(Array.from(boundary.params.subarray(2)), [2, -2]);
    assert.notDeepEqual(Array.from(params.subarray(2)), [2, -2]);
    // The boundary checkpoint holds phase 1's fresh Adam state, not phase 0's SGD velocity.
    assert.equal(boundary.optimizer.name, 'adam');
    assert.equal(boundary.optimizer.state['t'], 0);
  });

  for (const at of [4, 8, 12]) {
    it(`resumes bit-exactly from the checkpoint at step ${at}`, async () => {
      const whole = await twoStageSetup();
      const params = whole.model.init();
      const host = await train(whole.setup, { params, cursor: { epoch: 0, step: 0, imagesSeen: 0 } });
      const ckpt = host.checkpoints.find((c) => c.cursor.step === at)!;

      const resumed = await twoStageSetup();
      const start = applyCheckpoint(resumed.setup, ckpt, 'memory');
      await train(resumed.setup, start);
      assert.deepEqual(resumed.model.phaseCalls, at < 8 ? [0, 1] : [1]);
      assert.deepEqual(start.params, params);
    });
  }
});
