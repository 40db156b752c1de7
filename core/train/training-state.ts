/**
 * Everything a run needs to take its next step, in memory: the parameters, the optimizer of the
 * phase at the cursor (a phase's fresh optimizer replaces the last one right after that one's final
 * step), the model's committed state for every position of the global batch (PCD fantasy
 * particles), and the cursor.
 *
 * A step changes none of it until {@link TrainingState.commit} applies the job-wide reduced
 * gradient; a step that did not complete (its all-reduce failed, its group was re-formed) is undone
 * by {@link TrainingState.restore}, which only has to put the model's live state back: nothing is
 * copied per step and nothing is read from disk.
 *
 * With local SGD (`--sync-every H`, outer-sync.ts) a commit is one rank's inner step, and only a
 * round's sync commits for the job: {@link TrainingState.sync} takes the outer step and marks the
 * round's start, and restore() rolls a round that did not reach its sync back to that start.
 */
import type { BatchShare } from '../data/sampler.js';
import { CheckpointError } from '../errors.js';
import type { CheckpointData, DataCursor } from './checkpoint.js';
import type { Optimizer, OptimizerState } from './optimizer.js';
import { OuterSync } from './outer-sync.js';
import { checkpointSnapshot, type RunSetup } from './run-setup.js';
import { Sgd } from './sgd.js';
import { createPhaseOptimizer, phaseAtStep, phaseMomentum, type PhasePlan } from './training-phases.js';

/** Where a run starts: fresh parameters at step 0, or a checkpoint's state. */
export interface LoopStart {
  readonly params: Float32Array;
  readonly cursor: DataCursor;
  /** The optimizer state of the phase at `cursor.step`, when resuming; a fresh optimizer otherwise. */
  readonly optimizerState?: OptimizerState;
  /** The model state of every position of the global batch, when resuming; null for none. */
  readonly modelState?: Float32Array | null;
}

/** What a commit did, for the loop's logs. */
export interface CommitInfo {
  readonly epoch: number;
  /** The phase the committed step belonged to. */
  readonly phase: PhasePlan;
  readonly lr: number;
  /** SGD's momentum in the step, null for other optimizers. */
  readonly momentum: number | null;
}

export class TrainingState {
  readonly setup: RunSetup;
  /** The parameters, updated in place by every commit. */
  readonly params: Float32Array;
  private cursorNow: DataCursor;
  private phaseNow: PhasePlan;
  private optimizerNow: Optimizer;
  /** Committed model state of every global-batch position, rows in position order; null for none yet. */
  private committedModelState: Float32Array | null;
  /** Local SGD's outer loop; null when every step is all-reduced. */
  readonly outer: OuterSync | null;
  /** Where the open local-SGD round started: what restore() rolls back to. */
  private roundStart: {
    cursor: DataCursor;
    phase: PhasePlan;
    inner: OptimizerState;
    modelState: Float32Array | null;
  } | null = null;

  constructor(setup: RunSetup, start: LoopStart) {
    this.setup = setup;
    this.params = start.params;
    this.cursorNow = start.cursor;
    this.phaseNow = phaseAtStep(setup.phases, start.cursor.step);
    this.optimizerNow = createPhaseOptimizer(this.phaseNow, start.params.length, setup.config.beta2);
    if (start.optimizerState) this.optimizerNow.loadState(start.optimizerState);
    this.committedModelState = start.modelState ?? null;
    const { syncEvery, outerLr, outerMomentum } = setup.config;
    this.outer =
      (syncEvery ?? 1) > 1
        ? new OuterSync(start.params, { every: syncEvery, lr: outerLr, momentum: outerMomentum })
        : null;
    if (start.optimizerState) this.outer?.loadState(start.optimizerState);
    this.markRound();
    setup.model.setPhase?.(this.phaseNow.index);
  }

  get cursor(): DataCursor {
    return this.cursorNow;
  }

  get phase(): PhasePlan {
    return this.phaseNow;
  }

  get optimizer(): Optimizer {
    return this.optimizerNow;
  }

  /** What checkpoints and state transfers carry: the inner optimizer's state, and local SGD's outer momentum. */
  optimizerState(): OptimizerState {
    return { ...this.optimizerNow.state(), ...(this.outer?.state() ?? {}) };
  }

  /**
   * Ends a local-SGD round: the outer step with the ranks' averaged outer gradient `delta` makes
   * the parameters the synced ones, `modelState` (every position's, or null) becomes the committed
   * model state, and the next round starts here. A round that crossed into a new phase leaves the
   * outer momentum behind with the old phase's optimizer.
   */
  sync(delta: Float32Array, modelState: Float32Array | null): void {
    const outer = this.outer!;
    outer.step(this.params, delta);
    if (modelState) this.committedModelState = modelState;
    if (this.roundStart !== null && this.roundStart.phase.index !== this.phaseNow.index) outer.reset();
    this.markRound();
  }

  /** Whether a local-SGD round holds inner steps not synced yet. */
  private get roundOpen(): boolean {
    return this.roundStart !== null && this.roundStart.cursor.step !== this.cursorNow.step;
  }

  private markRound(): void {
    if (this.outer === null) return;
    this.roundStart = {
      cursor: this.cursorNow,
      phase: this.phaseNow,
      inner: this.optimizerNow.state(),
      modelState: this.committedModelState,
    };
  }

  /** The committed model state of every position of the global batch, or null. */
  get modelState(): Float32Array | null {
    return this.committedModelState;
  }

  /** The epoch the next step belongs to. */
  get epoch(): number {
    return Math.floor(this.cursorNow.step / this.setup.stepsPerEpoch);
  }

  /** True once every step of the run is committed. */
  get done(): boolean {
    return this.cursorNow.step >= this.setup.totalSteps;
  }

  /** Sets the optimizer's epoch-dependent settings (SGD's momentum switch) before a step; returns the momentum. */
  prepareStep(): number | null {
    if (!(this.optimizerNow instanceof Sgd)) return null;
    this.optimizerNow.momentum = phaseMomentum(this.phaseNow, this.epoch);
    return this.optimizerNow.momentum;
  }

  /**
   * Commits the next step: the optimizer moves the parameters against the job-wide reduced
   * `grads`, the cursor advances by one global batch, `modelState` (every position's, or null)
   * becomes the committed model state, and the next phase's fresh optimizer takes over after a
   * phase's last step.
   */
  commit(grads: Float32Array, modelState: Float32Array | null): CommitInfo {
    const momentum = this.prepareStep();
    const phase = this.phaseNow;
    const epoch = this.epoch;
    const lr = phase.lrSchedule(this.cursorNow.step - phase.firstStep, phase.steps);
    this.optimizerNow.step(this.params, grads, lr);
    this.cursorNow = {
      epoch,
      step: this.cursorNow.step + 1,
      imagesSeen: this.cursorNow.imagesSeen + this.setup.config.batchSize,
    };
    if (modelState) this.committedModelState = modelState;
    const { phases } = this.setup;
    if (this.cursorNow.step === phase.firstStep + phase.steps && phase.index + 1 < phases.length) {
      this.phaseNow = phases[phase.index + 1]!;
      this.optimizerNow = createPhaseOptimizer(this.phaseNow, this.params.length, this.setup.config.beta2);
      this.setup.model.setPhase?.(this.phaseNow.index);
    }
    return { epoch, phase, lr, momentum };
  }

  /** Marks the epoch of the cursor finished (the cursor of an epoch-end checkpoint names the next epoch). */
  endEpoch(epoch: number): void {
    if (this.cursorNow.epoch <= epoch) this.cursorNow = { ...this.cursorNow, epoch: epoch + 1 };
  }

  /**
   * Puts the model's live state back to the committed one for the rows of `share` (after a step
   * that did not commit, or when this rank's share changes); a model without state is untouched.
   * A local-SGD round that did not reach its sync is undone first: the parameters go back to the
   * anchor, the inner optimizer, phase and cursor to the round's start.
   */
  restore(share: BatchShare): void {
    const r = this.roundStart;
    if (this.outer !== null && r !== null && this.roundOpen) {
      this.params.set(this.outer.anchor);
      this.cursorNow = r.cursor;
      this.phaseNow = r.phase;
      this.optimizerNow = createPhaseOptimizer(r.phase, this.params.length, this.setup.config.beta2);
      this.optimizerNow.loadState(r.inner);
      this.committedModelState = r.modelState;
      this.setup.model.setPhase?.(r.phase.index);
    }
    const { model } = this.setup;
    if (!model.loadState) return;
    const all = this.committedModelState;
    if (all === null) {
      model.clearState?.();
      return;
    }
    const rows = this.setup.config.batchSize;
    if (all.length % rows !== 0) {
      throw new CheckpointError(
        'CHECKPOINT_INVALID',
        `model state of ${all.length} values is not ${rows} rows, one per position of the global batch`,
      );
    }
    const perRow = all.length / rows;
    model.loadState(all.slice(share.offset * perRow, (share.offset + share.count) * perRow));
  }

  /**
   * Replaces the whole state by a transferred one (parameters, optimizer state, model state, cursor);
   * the optimizer is the fresh one of the cursor's phase with `optimizerState` loaded. With local
   * SGD the parameters, already set, are the synced ones: the anchor of the next round.
   */
  adopt(cursor: DataCursor, optimizerState: Readonly<OptimizerState>, modelState: Float32Array | null): void {
    this.cursorNow = cursor;
    this.phaseNow = phaseAtStep(this.setup.phases, cursor.step);
    this.optimizerNow = createPhaseOptimizer(this.phaseNow, this.params.length, this.setup.config.beta2);
    this.optimizerNow.loadState(optimizerState);
    this.committedModelState = modelState;
    this.outer?.loadState(optimizerState);
    this.outer?.reanchor(this.params);
    this.markRound();
    this.setup.model.setPhase?.(this.phaseNow.index);
  }

  /** The state as a checkpoint (the cursor's generator state is kept for older readers). */
  checkpoint(rngState: CheckpointData['rng']): CheckpointData {
    const { model, config } = this.setup;
    return {
      modelKind: model.kind,
      hyper: config.hyper,
      paramSpecs: model.paramSpecs,
      params: this.params,
      optimizer: { name: this.optimizerNow.name, state: this.optimizerState() },
      rng: rngState,
      cursor: this.cursorNow,
      seed: config.seed,
      config: checkpointSnapshot(config, this.setup.backend.name),
      modelState: this.committedModelState,
    };
  }
}
