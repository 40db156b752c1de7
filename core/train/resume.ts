/**
 * Loading a run's starting point from a checkpoint: parameters, optimizer state and the model state
 * of every position of the global batch (the same on every rank).
 */
import { assertCheckpointFits, readCheckpoint, type CheckpointData } from './checkpoint.js';
import { CheckpointError } from '../errors.js';
import { checkResumable, type RunSetup } from './run-setup.js';
import type { LoopStart } from './training-state.js';
import { phaseAtStep } from './training-phases.js';

/**
 * Checks a checkpoint against a run's setup and returns where the run starts: parameters, the
 * optimizer state of the phase the checkpoint's step lies in (the loop saves a phase's fresh
 * optimizer as soon as the previous phase's last step is done), and the model state of every
 * position of the global batch, which each rank's share then takes its rows of.
 */
export function applyCheckpoint(setup: RunSetup, ckpt: CheckpointData, from: string): LoopStart {
  const { model, config } = setup;
  const phase = phaseAtStep(setup.phases, ckpt.cursor.step);
  assertCheckpointFits(
    { ...ckpt, dir: from },
    { kind: model.kind, paramSpecs: model.paramSpecs, optimizer: phase.training.optimizer },
  );
  checkResumable(ckpt.config, config, from);
  if (ckpt.modelState && ckpt.modelState.length % config.batchSize !== 0) {
    throw new CheckpointError(
      'CHECKPOINT_INVALID',
      `cannot resume from ${from}: its model state of ${ckpt.modelState.length} values is not one row per image of the global batch of ${config.batchSize}`,
    );
  }
  return {
    params: Float32Array.from(ckpt.params),
    cursor: ckpt.cursor,
    optimizerState: ckpt.optimizer.state,
    modelState: ckpt.modelState && model.loadState ? Float32Array.from(ckpt.modelState) : null,
  };
}

/** Reads the checkpoint in `dir` and applies it (see {@link applyCheckpoint}). */
export async function loadCheckpointState(setup: RunSetup, dir: string): Promise<LoopStart> {
  return applyCheckpoint(setup, await readCheckpoint(dir), dir);
}
