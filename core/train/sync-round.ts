/**
 * One round of local SGD (`--sync-every H`, outer-sync.ts) as the training loop sees it: the inner
 * steps this rank took since the last sync, and the sync that commits them for the job. The sync
 * is two all-reduces: the ranks' outer gradients (averaged, on the job's wire dtype), and beside
 * them, summed in float32, what every step of the round would have reduced had it been
 * synchronous: each step's loss and extras (weighted into the global batch's mean), the drain
 * vote, the model state of every position, and the audited corpus indices of every step. The
 * steps then count as committed, in order, exactly as synchronous steps do.
 */
import type { ProcessGroup } from '../collective/process-group.js';
import { wireBytes, type WireDtype } from '../collective/wire-dtype.js';
import type { BatchShare } from '../data/sampler.js';
import type { DataCursor } from './checkpoint.js';
import type { CommitInfo, TrainingState } from './training-state.js';
import { putHalves, readHalves } from './exact-halves.js';
import { checkWireRange } from './wire-range.js';

/** A step this rank took inside the round. */
export interface InnerStep {
  /** 0-based step index. */
  readonly step: number;
  readonly epoch: number;
  /** The cursor after the step. */
  readonly cursor: DataCursor;
  readonly info: CommitInfo;
  /** This rank's loss and extras on its share. */
  readonly loss: number;
  readonly extras: Readonly<Record<string, number>>;
  /** This rank's corpus indices, position order (audited runs only). */
  readonly indices: Uint32Array | null;
  readonly stepSeconds: number;
  /** Seconds waited for the step's batch. */
  readonly dataWaitSeconds: number;
}

/** A step the job committed, with its job-wide figures. */
export interface CommittedStep extends Omit<InnerStep, 'indices'> {
  /** Every position's corpus index (audited runs only). */
  readonly samples: number[] | null;
  readonly allreduceSeconds: number;
  /** Of allreduceSeconds, the time no compute overlapped. */
  readonly allreduceExposedSeconds: number;
  readonly allreduceBytes: number;
}

/** What the round's sync reads that is the same for every round. */
export interface RoundContext {
  readonly group: ProcessGroup | null;
  readonly share: BatchShare;
  readonly globalBatch: number;
  readonly extraNames: readonly string[];
  readonly wire: WireDtype;
  readonly audit: boolean;
  /** Values of model state per position, 0 for a model without state. */
  readonly statePerRow: number;
  readonly timeoutMs: number;
}

export class SyncRound {
  private steps: InnerStep[] = [];
  private delta: Float32Array | null = null;

  get length(): number {
    return this.steps.length;
  }

  add(step: InnerStep): void {
    this.steps.push(step);
  }

  /**
   * Syncs the round: returns its steps as committed, the state synced, and whether the group voted
   * to drain. The collectives' `tag` must be unique to the round on every rank (the round's last
   * step's). A failed collective throws with nothing changed: the caller restores the state.
   */
  async sync(
    state: TrainingState,
    ctx: RoundContext,
    tags: { delta: number; summed: number },
    drainVote: boolean,
    modelState: Float32Array | null,
  ): Promise<{ committed: CommittedStep[]; drained: boolean }> {
    const { group, share, globalBatch, extraNames } = ctx;
    const steps = this.steps;
    const n = steps.length;
    const started = performance.now();
    const outer = state.outer!;
    const delta = (this.delta ??= new Float32Array(state.params.length));
    outer.outerGradient(state.params, delta);
    const perStep = 1 + extraNames.length;
    const stateAt = n * perStep + 1;
    const auditAt = stateAt + ctx.statePerRow * globalBatch;
    const summed = new Float32Array(auditAt + (ctx.audit ? n * 2 * globalBatch : 0));
    // Each rank's share of the global mean: summed over the ranks it is the mean over the batch.
    const share1 = share.count / globalBatch;
    steps.forEach((s, k) => {
      summed[k * perStep] = s.loss * share1;
      extraNames.forEach((name, i) => (summed[k * perStep + 1 + i] = (s.extras[name] ?? NaN) * share1));
      if (ctx.audit && s.indices)
        putHalves(summed, auditAt + k * 2 * globalBatch + 2 * share.offset, s.indices);
    });
    summed[n * perStep] = drainVote ? 1 : 0;
    if (modelState && ctx.statePerRow > 0) summed.set(modelState, stateAt + share.offset * ctx.statePerRow);
    if (group) {
      const worldSize = group.worldSize;
      if (share.count * worldSize !== globalBatch) {
        const w = (share.count * worldSize) / globalBatch;
        for (let i = 0; i < delta.length; i++) delta[i] = delta[i]! * w;
      }
      await group.allreduce(delta, 'avg', { tag: tags.delta, timeoutMs: ctx.timeoutMs, wire: ctx.wire });
      await group.allreduce(summed, 'sum', { tag: tags.summed, timeoutMs: ctx.timeoutMs });
    }
    const allreduceSeconds = (performance.now() - started) / 1000;
    checkWireRange(delta, ctx.wire, steps[n - 1]!.step, 'parameter change');
    state.sync(delta, ctx.statePerRow > 0 ? summed.slice(stateAt, auditAt) : null);
    const bytes = group ? delta.length * wireBytes(ctx.wire) + summed.byteLength : 0;
    const committed = steps.map((s, k): CommittedStep => {
      const last = k === n - 1;
      const samples = ctx.audit ? readHalves(summed, auditAt + k * 2 * globalBatch, globalBatch) : null;
      return {
        step: s.step,
        epoch: s.epoch,
        cursor: s.cursor,
        info: s.info,
        loss: summed[k * perStep]!,
        extras: Object.fromEntries(extraNames.map((name, i) => [name, summed[k * perStep + 1 + i]!])),
        samples,
        stepSeconds: s.stepSeconds,
        dataWaitSeconds: s.dataWaitSeconds,
        allreduceSeconds: last ? allreduceSeconds : 0,
        allreduceExposedSeconds: last ? allreduceSeconds : 0,
        allreduceBytes: last ? bytes : 0,
      };
    });
    this.steps = [];
    return { committed, drained: summed[n * perStep]! > 0 };
  }
}
