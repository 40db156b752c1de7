import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError } from '../errors.js';
import { constantLr, cosineLr, parseLrSchedule, stepDecayLr, withWarmup } from './lr-schedule.js';

const close = (actual: number, expected: number): void =>
  assert.ok(
    Math.abs(actual - expected) <= 1e-12 * Math.max(1, Math.abs(expected)),
    `${actual} vs ${expected}`,
  );

test('constant', () => {
  const s = constantLr(0.1);
  assert.equal(s(0, 100), 0.1);
  assert.equal(s(99, 100), 0.1);
});

test('step decay multiplies by the factor at each boundary', () => {
  const s = stepDecayLr(1, 0.5, 10);
  close(s(0, 100), 1);
  close(s(9, 100), 1);
  close(s(10, 100), 0.5);
  close(s(25, 100), 0.25);
});

test('cosine goes from lr through the midpoint to the floor and stays there', () => {
  const s = cosineLr(1, 0.1);
  close(s(0, 100), 1);
  close(s(50, 100), 0.55);
  close(s(100, 100), 0.1);
  close(s(150, 100), 0.1);
  assert.ok(s(25, 100) > s(26, 100));
});

test('warm-up ramps linearly, then the inner schedule runs over the remaining steps', () => {
  const s = withWarmup(cosineLr(1, 0), 10);
  close(s(0, 110), 0.1);
  close(s(4, 110), 0.5);
  close(s(9, 110), 1);
  close(s(10, 110), 1);
  close(s(60, 110), 0.5);
  close(s(110, 110), 0);
  assert.equal(withWarmup(constantLr(0.3), 0)(0, 10), 0.3);
});

test('parse: each kind, defaults, epochs and milestones', () => {
  close(parseLrSchedule({ kind: 'constant', lr: 0.2, warmupSteps: 4 })(1, 100), 0.1);
  const cosine = parseLrSchedule({ kind: 'cosine', lr: 1 });
  close(cosine(100, 100), 0.01); // default floor: 1% of lr
  const milestones = parseLrSchedule({ kind: 'step', lr: 1 }); // default: x0.1 at 50% and 75%
  close(milestones(49, 100), 1);
  close(milestones(50, 100), 0.1);
  close(milestones(75, 100), 0.01);
  const epochs = parseLrSchedule({ kind: 'step', lr: 1, factor: 0.5, everyEpochs: 2 }, { stepsPerEpoch: 10 });
  close(epochs(19, 100), 1);
  close(epochs(20, 100), 0.5);
  const steps = parseLrSchedule({ kind: 'step', lr: 1, factor: 0.5, everySteps: 3, warmupSteps: 2 });
  close(steps(0, 100), 0.5);
  close(steps(2, 100), 1);
  close(steps(5, 100), 0.5);
});

test('parse: each mistake is a ConfigError naming the field', () => {
  const field = (raw: unknown, context = {}): string => {
    try {
      parseLrSchedule(raw, context);
    } catch (e) {
      if (e instanceof ConfigError) return e.field;
      throw e;
    }
    return '(no error)';
  };
  assert.equal(field(null), 'lrSchedule');
  assert.equal(field({ kind: 'linear', lr: 1 }), 'lrSchedule.kind');
  assert.equal(field({ kind: 'constant' }), 'lrSchedule.lr');
  assert.equal(field({ kind: 'constant', lr: -1 }), 'lrSchedule.lr');
  assert.equal(field({ kind: 'constant', lr: 1, warmupSteps: 1.5 }), 'lrSchedule.warmupSteps');
  assert.equal(field({ kind: 'constant', lr: 1, minLr: 0 }), 'lrSchedule.minLr');
  assert.equal(field({ kind: 'cosine', lr: 1, minLr: 2 }), 'lrSchedule.minLr');
  assert.equal(field({ kind: 'step', lr: 1, factor: 0 }), 'lrSchedule.factor');
  assert.equal(field({ kind: 'step', lr: 1, everySteps: 0 }), 'lrSchedule.everySteps');
  assert.equal(field({ kind: 'step', lr: 1, everySteps: 2, milestones: [0.5] }), 'lrSchedule.milestones');
  assert.equal(field({ kind: 'step', lr: 1, everyEpochs: 2 }), 'lrSchedule.everyEpochs');
  assert.equal(field({ kind: 'step', lr: 1, milestones: [0.7, 0.5] }), 'lrSchedule.milestones');
  assert.equal(field({ kind: 'cosine', lr: 1 }, { field: 'lr-schedule' }), '(no error)');
  assert.equal(field({ kind: 'cosine', lr: 0 }, { field: 'job.lr-schedule' }), 'job.lr-schedule.lr');
});
