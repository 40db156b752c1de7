/**
 * One job on one worker, generation after generation: the worker's half of elastic training. For
 * each generation: join its group, take the state (initialise it, fetch the checkpoint, or keep
 * one's own and receive the newest from a peer), check the replicas agree, then train until the
 * run ends or the generation does. The training loop itself (core/train/training-loop.ts) knows
 * nothing of this: a lost peer surfaces as a failed collective, which leaves the step uncommitted;
 * a drain is a vote the loop carries in its all-reduce.
 *
 * A generation ends for this worker when the coordinator says so (EndGeneration: the group is
 * closed at once; Drain: the members stop together after one committed step), when its group
 * breaks, or when the worker is leaving. It then tells the coordinator how many steps it committed
 * and waits for the next assignment: its state stays in memory, nothing is read back from disk.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CollectiveEndpoint } from '../core/collective/collective-endpoint.js';
import { CollectiveError } from '../core/collective/collective-error.js';
import type { ProcessGroup } from '../core/collective/process-group.js';
import type { JobConfig } from '../core/config/job-config.js';
import { syncState } from '../core/elastic/state-sync.js';
import { deriveSeed, Rng } from '../core/data/rng.js';
import { ClusterError, HarmoniumError } from '../core/errors.js';
import { serveMetrics, type MetricsServer } from '../core/metrics/metrics-server.js';
import { createWorkerMetrics, type WorkerMetrics } from '../core/metrics/worker-metrics.js';
import { applyCheckpoint } from '../core/train/resume.js';
import { writeRunResults, type TrainingTotals } from '../core/train/run-results.js';
import { setUpRun, type RunSetup } from '../core/train/run-setup.js';
import { checkReplicas, collectiveTag, runTrainingLoop, SEED_STREAM } from '../core/train/training-loop.js';
import { TrainingState } from '../core/train/training-state.js';
import type { Assignment, EvaluateTask, WorkerEvent__Output } from '../proto/coordinator-service.js';
import type { ResultFile } from '../proto/result-codec.js';
import type { CoordinatorClient } from './coordinator-client.js';
import { CoordinatorHost } from './coordinator-host.js';
import type { ControlChannel } from './control-channel.js';
import type { Log } from '../core/logging/log.js';

/** Tries at sending a job's results over a connection that may drop. */
const FINISH_ATTEMPTS = 4;

/** What a job runner uses of its worker. */
export interface WorkerContext {
  readonly workerId: string;
  readonly endpoint: CollectiveEndpoint;
  readonly client: CoordinatorClient;
  readonly control: ControlChannel;
  readonly listenHost: string;
  /** Where a job's /metrics binds. */
  readonly metricsHost: string;
  /** Compute threads of this host, overriding the job's (0: the job's). */
  readonly threads: number;
  readonly log: Log;
  /** True once the worker is going away (SIGTERM). */
  readonly leaving: () => boolean;
  /** Resolves when the worker starts leaving. */
  readonly leaving$: Promise<void>;
}

/** How a job ended for this worker. */
export interface JobOutcome {
  /** 'done': its part is over (results sent, or training finished on a rank other than 0). */
  readonly ended: 'done' | 'aborted' | 'left';
  readonly reason: string;
}

/** Ends the wait for the current generation's group or loop, with why. */
class GenerationSignal extends Error {
  constructor(
    readonly kind: 'end' | 'abort',
    message: string,
  ) {
    super(message);
  }
}

/** Aggregates what the loops of several generations add up to. */
interface Totals {
  trainSeconds: number;
  lastLoss: number;
  pictures: string[];
  phaseSeconds: number[];
}

function jobConfig(ctx: WorkerContext, a: Assignment | EvaluateTask): JobConfig {
  const submitted = JSON.parse(a.configJson) as JobConfig;
  return ctx.threads > 0 ? { ...submitted, threads: ctx.threads } : submitted;
}

function freshState(setup: RunSetup): TrainingState {
  return new TrainingState(setup, {
    params: setup.model.init(new Rng(deriveSeed(setup.config.seed, SEED_STREAM.init))),
    cursor: { epoch: 0, step: 0, imagesSeen: 0 },
  });
}

/** Runs this worker's part of the job of assignment `first` until the job is over for it. */
export async function runJob(ctx: WorkerContext, first: Assignment): Promise<JobOutcome> {
  const { client, control, log } = ctx;
  const jobId = first.jobId;
  const config = jobConfig(ctx, first);
  // Peers that finish setting up first may link before this worker joins: their calls are held.
  ctx.endpoint.expect(jobId);
  let setup: RunSetup;
  try {
    setup = await setUpRun(config);
  } catch (err) {
    return failJob(ctx, jobId, first.generation, first.rank, err);
  }
  const host = new CoordinatorHost(client, { jobId, generation: first.generation, rank: first.rank });
  host.onStep = (step) => control.setStep(step);
  let registry: WorkerMetrics | null = null;
  let metricsServer: MetricsServer | null = null;
  if (first.metricsPort > 0) {
    try {
      metricsServer = await serveMetrics(() => registry!.registry, {
        host: ctx.metricsHost,
        port: first.metricsPort,
      });
    } catch (err) {
      log(`worker ${ctx.workerId}: no /metrics for job ${jobId}: ${(err as Error).message}`, {
        job: jobId,
        rank: first.rank,
        generation: first.generation,
      });
    }
  }
  const totals: Totals = {
    trainSeconds: 0,
    lastLoss: NaN,
    pictures: [],
    phaseSeconds: setup.phases.map(() => 0),
  };
  const started = performance.now();
  const resumedFrom = config.resume && first.start === 'checkpoint' ? first.startStep : null;
  let startImages: number | null = null;
  let state: TrainingState | null = null;
  let a = first;
  try {
    for (;;) {
      registry = createWorkerMetrics({ job: jobId, rank: a.rank, model: config.model });
      host.enter({ jobId, generation: a.generation, rank: a.rank }, registry);
      control.setJob(jobId, a.generation, a.rank, a.heartbeatIntervalMs);
      const result = await runGeneration(ctx, setup, host, state, a, totals);
      state = result.state;
      if (result.outcome) return result.outcome;
      const next = await nextAssignment(ctx, jobId, a.generation);
      if ('ended' in next) return next;
      a = next;
    }
  } finally {
    control.setJob('', 0);
    await metricsServer?.close();
  }

  /** One generation; returns the state it leaves, and the job's outcome when the job is over for this worker. */
  async function runGeneration(
    ctx: WorkerContext,
    setup: RunSetup,
    host: CoordinatorHost,
    held: TrainingState | null,
    a: Assignment,
    totals: Totals,
  ): Promise<{ state: TrainingState | null; outcome?: JobOutcome }> {
    const timeoutMs = a.collectiveTimeoutMs;
    const share = setup.source.shareOf(a.rank, a.worldSize);
    let group: ProcessGroup | null = null;
    let drain = ctx.leaving();
    let signal: GenerationSignal | null = null;
    let onSignal: (s: GenerationSignal) => void = () => undefined;
    const signalled = new Promise<never>((_, reject) => (onSignal = reject));
    signalled.catch(() => undefined);
    const raise = (s: GenerationSignal): void => {
      if (signal) return;
      signal = s;
      onSignal(s);
      void group?.close();
    };
    void ctx.leaving$.then(() => (drain = true));
    const signalFor = (e: WorkerEvent__Output): boolean => {
      const g = e.drain ?? e.endGeneration;
      if (g && g.jobId === jobId && g.generation === a.generation) {
        if (e.drain) drain = true;
        else raise(new GenerationSignal('end', g.reason));
        return true;
      }
      if (e.abort?.jobId === jobId) {
        raise(new GenerationSignal('abort', e.abort.reason));
        return true;
      }
      return false;
    };
    control.onEvent(signalFor);
    // What came while this worker was loading the job or between generations counts too.
    control.take(signalFor);
    let state = held;
    let inProgress = false;
    try {
      if (signal) throw signal;
      group = await Promise.race([
        ctx.endpoint.join({
          jobId,
          generation: a.generation,
          rank: a.rank,
          peers: a.peers,
          timeoutMs: timeoutMs + setup.config.rendezvousTimeout * 1000,
          linkSecret: a.linkSecret,
        }),
        signalled,
      ]);
      if (signal) throw signal;
      if (a.start === 'fresh') {
        state = freshState(setup);
        host.log.truncate(0);
      } else if (a.start === 'checkpoint') {
        const data = await Promise.race([client.fetchState(jobId, a.rank, a.worldSize), signalled]);
        state = new TrainingState(setup, applyCheckpoint(setup, data, `the checkpoint of job ${jobId}`));
        host.log.truncate(state.cursor.step);
      } else {
        state ??= freshState(setup);
        if (a.sourceRank >= 0) {
          const log = await Promise.race([
            syncState(group, state, {
              source: a.sourceRank,
              tags: {
                header: collectiveTag(a.startStep, 'syncHeader'),
                payload: collectiveTag(a.startStep, 'sync'),
              },
              timeoutMs,
              log: host.log.toJson(),
            }),
            signalled,
          ]);
          if (a.rank !== a.sourceRank) host.log.merge(log, `rank ${a.sourceRank}`);
        }
      }
      host.log.confirm(a.recordedStep);
      state.restore(share);
      // Every member holds the same state now, or the generation must not train.
      await Promise.race([checkReplicas(group, state.params, a.startStep, timeoutMs), signalled]);
      control.setStep(state.cursor.step);
      startImages ??= state.cursor.imagesSeen;
      host.last = null;
      await host.report(state.cursor.step);
      ctx.log(
        `worker ${ctx.workerId}: rank ${a.rank} of ${a.worldSize} in job ${jobId} generation ${a.generation}, ` +
          `from step ${state.cursor.step} (${a.start}${a.sourceRank >= 0 ? `, state from rank ${a.sourceRank}` : ''})`,
        { job: jobId, rank: a.rank, generation: a.generation, step: state.cursor.step },
      );
      const training = state;
      const loop = await Promise.race([
        runTrainingLoop(setup, training, {
          host,
          group,
          share,
          progress: null,
          digestEvery: a.digestEvery,
          collectiveTimeoutMs: timeoutMs,
          generation: a.generation,
          drainRequested: () => drain,
          onStepStarted: (busy) => (inProgress = busy),
        }),
        signalled,
      ]);
      totals.trainSeconds += loop.trainSeconds;
      if (Number.isFinite(loop.lastLoss)) totals.lastLoss = loop.lastLoss;
      totals.pictures.push(...loop.pictures);
      loop.phaseSeconds.forEach((s, i) => (totals.phaseSeconds[i]! += s));
      control.onEvent(null);
      if (loop.ended === 'drained') {
        const reason = ctx.leaving() ? 'leaving' : 'drained';
        if (a.rank === 0) await host.report();
        await client.generationDone({
          jobId,
          generation: a.generation,
          reason,
          step: training.cursor.step,
          inProgress: false,
        });
        return { state: training, ...(reason === 'leaving' ? { outcome: await released(ctx, jobId) } : {}) };
      }
      // Training is over: rank 0 evaluates; the others are done with this job.
      if (a.rank === 0) await host.report();
      const runTotals: TrainingTotals = { cursor: training.cursor, ...totals };
      await client.generationDone({
        jobId,
        generation: a.generation,
        reason: 'finished',
        step: training.cursor.step,
        inProgress: false,
        ...(a.rank === 0 ? { totals: JSON.stringify(runTotals) } : {}),
      });
      if (a.rank === 0) {
        try {
          await sendResults(ctx, setup, training.params, runTotals, host.pictures, {
            jobId,
            workers: a.worldSize,
            started,
            startImages: startImages ?? 0,
            resumedFrom,
          });
        } catch (err) {
          // Training is over: there is no generation to re-form. Say so, and the coordinator hands the
          // evaluation to another worker; waiting here for an assignment would wait forever.
          const message = err instanceof Error ? err.message : String(err);
          await client
            .generationDone({
              jobId,
              generation: a.generation,
              reason: 'broken',
              step: training.cursor.step,
              inProgress: false,
              message,
            })
            .catch(() => undefined);
          return {
            state: training,
            outcome: { ended: 'aborted', reason: `could not send the results: ${message}` },
          };
        }
      }
      ctx.log(`worker ${ctx.workerId}: rank ${a.rank} done with job ${jobId}`, {
        job: jobId,
        rank: a.rank,
        generation: a.generation,
      });
      return { state: training, outcome: { ended: 'done', reason: 'training finished' } };
    } catch (err) {
      control.onEvent(null);
      void group?.close();
      const sig = signal as GenerationSignal | null;
      if (sig?.kind === 'abort') return { state, outcome: { ended: 'aborted', reason: sig.message } };
      if (err instanceof HarmoniumError && err.code === 'FENCED') {
        return { state, outcome: { ended: 'aborted', reason: `fenced: ${err.message}` } };
      }
      // A broken group, or the coordinator out of reach for a call: the generation ends, the job lives.
      const broken =
        sig !== null ||
        err instanceof CollectiveError ||
        (err instanceof HarmoniumError && err.code === 'RPC_FAILED');
      if (!broken) return { state, outcome: await failJob(ctx, jobId, a.generation, a.rank, err) };
      // Restored first: a local-SGD round that did not reach its sync is not a committed step.
      if (state) state.restore(share);
      const step = state ? state.cursor.step : -1;
      const why = sig ? sig.message : (err as Error).message;
      ctx.log(
        `worker ${ctx.workerId}: generation ${a.generation} of job ${jobId} ended at step ${step}: ${why}`,
        { job: jobId, rank: a.rank, generation: a.generation, ...(step >= 0 ? { step } : {}) },
      );
      const reason = ctx.leaving() ? 'leaving' : 'broken';
      try {
        await client.generationDone({
          jobId,
          generation: a.generation,
          reason,
          step,
          inProgress,
          ...(err instanceof CollectiveError
            ? { code: err.code, message: err.message, peer: err.peer ?? -1 }
            : { message: why }),
        });
      } catch (reportErr) {
        if (reportErr instanceof HarmoniumError && reportErr.code === 'FENCED') {
          return { state, outcome: { ended: 'aborted', reason: `fenced: ${reportErr.message}` } };
        }
        throw reportErr;
      }
      return { state, ...(reason === 'leaving' ? { outcome: await released(ctx, jobId) } : {}) };
    } finally {
      control.onEvent(null);
      // Not awaited: saying goodbye to a stopped or dead neighbour waits out a grace period, and the
      // next generation must not wait for it.
      void group?.close();
    }
  }
}

/** Tells the coordinator of an error no re-forming mends (bad data, diverged replicas): the job fails. */
async function failJob(
  ctx: WorkerContext,
  jobId: string,
  generation: number,
  rank: number,
  err: unknown,
): Promise<JobOutcome> {
  const code = err instanceof HarmoniumError ? err.code : 'INTERNAL';
  const message = err instanceof Error ? err.message : String(err);
  await ctx.client.fail(jobId, generation, rank, code, message, -1).catch(() => undefined);
  return { ended: 'aborted', reason: `[${code}] ${message}` };
}

/** Waits for this job's next assignment, or for the word that the job is over for this worker. */
async function nextAssignment(
  ctx: WorkerContext,
  jobId: string,
  generation: number,
): Promise<Assignment | JobOutcome> {
  for (;;) {
    // A worker told to leave between generations leaves now; the coordinator re-forms without it.
    const e = await Promise.race([ctx.control.next(), ctx.leaving$.then(() => null)]);
    if (e === null) return { ended: 'left', reason: `left job ${jobId} between generations` };
    if (e.assignment && e.assignment.jobId === jobId && e.assignment.generation > generation)
      return e.assignment;
    if (e.abort?.jobId === jobId) return { ended: 'aborted', reason: e.abort.reason };
    if (e.assignment) {
      ctx.log(
        `worker ${ctx.workerId}: ignoring an assignment for job ${e.assignment.jobId} while in job ${jobId}`,
        { job: jobId, generation },
      );
    }
  }
}

/** A leaving worker waits (briefly) for the coordinator to release it, so its exit is no loss. */
async function released(ctx: WorkerContext, jobId: string): Promise<JobOutcome> {
  const wait = new Promise<void>((resolve) => setTimeout(resolve, 5000).unref());
  await Promise.race([
    (async () => {
      for (;;) if ((await ctx.control.next()).abort?.jobId === jobId) return;
    })(),
    wait,
  ]);
  return { ended: 'left', reason: `left job ${jobId}` };
}

/** Evaluates the trained parameters and hands summary.json and the pictures to the coordinator. */
async function sendResults(
  ctx: WorkerContext,
  setup: RunSetup,
  params: Float32Array,
  totals: TrainingTotals,
  made: readonly ResultFile[],
  run: { jobId: string; workers: number; started: number; startImages: number; resumedFrom: number | null },
): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'harmonium-results-'));
  try {
    const summary = await writeRunResults(
      setup,
      {
        params,
        loop: totals,
        workers: run.workers,
        startImages: run.startImages,
        resumedFrom: run.resumedFrom,
        started: run.started,
        log: ctx.log,
      },
      dir,
    );
    const have = new Set(made.map((f) => f.name));
    const files = [
      ...made,
      ...(await Promise.all(
        summary.pictures
          .filter((name) => !have.has(name))
          .map(async (name) => ({ name, data: await readFile(join(dir, name)) })),
      )),
    ];
    // A dropped connection must not cost a trained job its results: the upload is tried again.
    for (let attempt = 1; ; attempt++) {
      try {
        await ctx.client.finish(run.jobId, JSON.stringify(summary), files);
        break;
      } catch (err) {
        const transient = err instanceof HarmoniumError && err.code === 'RPC_FAILED';
        if (!transient || attempt === FINISH_ATTEMPTS) throw err;
        ctx.log(`worker ${ctx.workerId}: sending the results failed (${err.message}); trying again`, {
          job: run.jobId,
        });
        await new Promise((r) => setTimeout(r, 500 * attempt));
      }
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Evaluates a job's final checkpoint for the coordinator (its rank 0 was lost after training). */
export async function runEvaluation(ctx: WorkerContext, task: EvaluateTask): Promise<JobOutcome> {
  const config = jobConfig(ctx, task);
  ctx.control.setJob(task.jobId, 0, 0);
  try {
    const setup = await setUpRun(config);
    const data = await ctx.client.fetchState(task.jobId, 0, 1);
    const start = applyCheckpoint(setup, data, `the final checkpoint of job ${task.jobId}`);
    if (start.cursor.step !== setup.totalSteps) {
      throw new ClusterError(
        'JOB_FAILED',
        `the checkpoint of job ${task.jobId} is at step ${start.cursor.step}, not the last (${setup.totalSteps})`,
      );
    }
    const parsed = task.totalsJson ? (JSON.parse(task.totalsJson) as Partial<TrainingTotals>) : {};
    const totals: TrainingTotals = {
      cursor: start.cursor,
      lastLoss: parsed.lastLoss ?? NaN,
      trainSeconds: parsed.trainSeconds ?? 0,
      pictures: [],
      phaseSeconds: parsed.phaseSeconds ?? setup.phases.map(() => 0),
    };
    ctx.log(`worker ${ctx.workerId}: evaluating the final checkpoint of job ${task.jobId}`, {
      job: task.jobId,
    });
    await sendResults(ctx, setup, start.params, totals, [], {
      jobId: task.jobId,
      workers: config.workers,
      started: performance.now(),
      startImages: 0,
      resumedFrom: null,
    });
    return { ended: 'done', reason: 'evaluated' };
  } catch (err) {
    return failJob(ctx, task.jobId, 0, 0, err);
  } finally {
    ctx.control.setJob('', 0);
  }
}
