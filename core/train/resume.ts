/**
 * Loading a rank's starting point from a checkpoint: parameters and optimizer state (the same on
 * every rank) and this rank's slice of the model state.
 */
import { assertCheckpointFits, readCheckpoint, type CheckpointData } from './checkpoint.js';
import { CheckpointError } from '../errors.js';
import { checkResumable, type RunSetup } from './run-setup.js';
import type { LoopStart } from './training-loop.js';
import { phaseAtStep } from './training-phases.js';

/**
 * Applies a checkpoint to a rank's setup (model state) and returns where the loop starts, with the
 * optimizer state of the phase the checkpoint's step lies in (the loop saves a phase's fresh
 * optimizer as soon as the previous phase's last step is done). Model state (PCD fantasy particles) is stored as every rank's rows in rank order, which is
 * also the layout of one worker with the whole batch, so it is split evenly across the ranks.
 */
export function applyCheckpoint(setup: RunSetup, ckpt: CheckpointData, from: string): LoopStart {
  const { model, config, placement } = setup;
  const phase = phaseAtStep(setup.phases, ckpt.cursor.step);
  assertCheckpointFits(
    { ...ckpt, dir: from },
    { kind: model.kind, paramSpecs: model.paramSpecs, optimizer: phase.training.optimizer },
  );
  checkResumable(ckpt.config, config, from);
  if (ckpt.modelState && model.loadState) {
    const all = ckpt.modelState;
    if (all.length % placement.worldSize !== 0) {
      throw new CheckpointError(
        'CHECKPOINT_INVALID',
        `cannot resume from ${from}: its model state of ${all.length} values does not split across ${placement.worldSize} workers`,
      );
    }
    const part = all.length / placement.worldSize;
    model.loadState(all.slice(placement.rank * part, (placement.rank + 1) * part));
  }
  return {
    params: Float32Array.from(ckpt.params),
    cursor: ckpt.cursor,
    optimizerState: ckpt.optimizer.state,
  };
}

/** Reads the checkpoint in `dir` and applies it (see {@link applyCheckpoint}). */
export async function loadCheckpointState(setup: RunSetup, dir: string): Promise<LoopStart> {
  return applyCheckpoint(setup, await readCheckpoint(dir), dir);
}
