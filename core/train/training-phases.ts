/**
 * The phases of a run: one for most models, several for a model trained in stages (greedy
 * layer-wise pretraining, then fine-tuning). Phases cover whole epochs, back to back; each starts
 * with a fresh optimizer, its own learning-rate schedule and a momentum switch counted from its
 * own first epoch. Every rank plans the same phases from the same config.
 */
import type { JobConfig } from '../config/job-config.js';
import type { Model, TrainingDefaults, TrainingPhase } from '../models/model.js';
import { createOptimizer } from './create-optimizer.js';
import { constantLr, type LrSchedule } from './lr-schedule.js';
import type { Optimizer } from './optimizer.js';

/** One phase placed on the run's step axis. */
export interface PhasePlan {
  /** Position in the model's `phases` (0 for a single-phase model). */
  readonly index: number;
  readonly name: string;
  readonly firstEpoch: number;
  readonly epochs: number;
  readonly firstStep: number;
  readonly steps: number;
  /** The optimiser settings in force: the phase's own, or the job's. */
  readonly training: TrainingDefaults;
  /** Learning rate of the phase's step `s` (counted from its first step) of `steps`. */
  readonly lrSchedule: LrSchedule;
}

/** The name of the one phase of a model without phases. */
export const SINGLE_PHASE_NAME = 'train';

/** The job's own optimiser settings. */
function jobTraining(config: JobConfig): TrainingDefaults {
  return {
    optimizer: config.optimizer,
    lr: config.lr,
    momentum: config.momentum,
    finalMomentum: config.finalMomentum,
    momentumSwitchEpoch: config.momentumSwitchEpoch,
    beta1: config.beta1,
  };
}

/**
 * Places the model's phases (or the single one) on the step axis. Phases with their own settings
 * run at a constant rate; the others use `jobSchedule`, the job's `--lr-schedule`.
 */
export function planPhases(
  model: Model,
  config: JobConfig,
  stepsPerEpoch: number,
  jobSchedule: LrSchedule,
): PhasePlan[] {
  const phases: readonly TrainingPhase[] = model.phases ?? [
    { name: SINGLE_PHASE_NAME, epochs: null, training: null },
  ];
  const plans: PhasePlan[] = [];
  let epoch = 0;
  for (const [index, phase] of phases.entries()) {
    const epochs = phase.epochs ?? config.epochs;
    plans.push({
      index,
      name: phase.name,
      firstEpoch: epoch,
      epochs,
      firstStep: epoch * stepsPerEpoch,
      steps: epochs * stepsPerEpoch,
      training: phase.training ?? jobTraining(config),
      lrSchedule: phase.training ? constantLr(phase.training.lr) : jobSchedule,
    });
    epoch += epochs;
  }
  return plans;
}

/** The phase that step `step` (0-based) belongs to; the last phase for the step after the run. */
export function phaseAtStep(plans: readonly PhasePlan[], step: number): PhasePlan {
  for (const p of plans) if (step < p.firstStep + p.steps) return p;
  return plans[plans.length - 1]!;
}

/** A fresh optimizer for `phase` over `size` parameters. */
export function createPhaseOptimizer(phase: PhasePlan, size: number, beta2: number): Optimizer {
  const t = phase.training;
  return createOptimizer(
    { optimizer: t.optimizer, momentum: t.momentum, beta1: t.beta1 ?? 0.9, beta2 },
    size,
  );
}

/** SGD momentum in `phase` at run epoch `epoch`. */
export function phaseMomentum(phase: PhasePlan, epoch: number): number {
  const t = phase.training;
  return epoch - phase.firstEpoch >= t.momentumSwitchEpoch ? t.finalMomentum : t.momentum;
}

/** "5 epochs", or "25 epochs in 3 phases (rbm-1 784-500: 10, ...)" for a model trained in stages. */
export function describePhases(plans: readonly PhasePlan[]): string {
  const last = plans[plans.length - 1]!;
  const total = last.firstEpoch + last.epochs;
  if (plans.length === 1) return `${total} epochs`;
  return `${total} epochs in ${plans.length} phases (${plans.map((p) => `${p.name}: ${p.epochs}`).join(', ')})`;
}
