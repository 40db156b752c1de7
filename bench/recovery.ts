/**
 * How long does an elastic job stall when it loses a worker, and what does elasticity cost a job
 * that loses none? Real processes on loopback: a standalone coordinator and three `harmonium worker`
 * processes (test/processes.ts), one fault per trial on the worker of rank 1.
 *
 *   node --import tsx bench/recovery.ts [--trials 5] [--kinds kill,stop,term] [--baseline DIR]
 *                                       [--pairs 8]
 *
 * Recovery: each trial starts a fresh cluster (nothing a previous trial left, warm or broken, can
 * change its numbers), submits a 3-worker job, waits until metrics.jsonl shows step 30, then sends
 * kill -9, SIGSTOP or SIGTERM to rank 1 at t0. Its recovery time is summary.json's first_step_at of
 * the first generation formed after t0, minus t0: the coordinator's own record of when training went
 * on, so neither this script's polling nor the fault's kind biases it. SIGCONT follows a SIGSTOP once
 * the next generation trains, so the stopped worker is fenced and can be cleaned up. The log lines
 * of every process are timestamped as they arrive, to split each recovery into detection (t0 to the
 * coordinator ending or draining the generation), re-forming (to the new generation's formed_at)
 * and the restart (join, state, replica check and the first step, to first_step_at); the first trial
 * of each kind prints its whole timeline.
 *
 * Healthy throughput (with --baseline DIR, a checkout of the commit before elastic training): the
 * same fault-free job through the local launcher (`train --workers 3`) of DIR and of this repository,
 * alternately (baseline first in even pairs, ours first in odd ones, so slow drift of the machine
 * hits both sides alike), compared pair by pair on summary.json's images_per_second and on the
 * median of metrics.jsonl's per-interval rates.
 *
 * Every measurement waits first until no test run is active and the machine is nearly idle: on a
 * 2-core machine a test suite or a type check next to it would dominate every number.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { readMetricsLog } from '../core/train/metrics-log.js';
import { REPO } from '../test/cli-helpers.js';
import { Cluster, until, type Running } from '../test/processes.js';
import { arg, median, waitForQuiet } from './machine.js';

/** --heartbeat-timeout, given explicitly so the SIGSTOP target below cannot drift from the job's. */
const HEARTBEAT_TIMEOUT_S = 5;

/**
 * 240 steps of a small autoencoder: long enough that a fault at step 30 lands mid-training with
 * most of the job after it. The batch divides by 3 because the baseline requires it.
 */
const JOB = [
  '--model',
  'ae',
  '--layers',
  '256,64',
  '--limit',
  '12240',
  '--batch-size',
  '102',
  '--epochs',
  '2',
  '--no-eval',
  '--no-pictures',
  '--log-every',
  '5',
];

const FAULT_STEP = 30;
const JOB_TIMEOUT_MS = 300_000;
/** Lines this far around a recovery belong to its timeline. */
const TIMELINE_MARGIN_MS = 300;

type Kind = 'kill' | 'stop' | 'term';

const SIGNAL: Record<Kind, NodeJS.Signals> = { kill: 'SIGKILL', stop: 'SIGSTOP', term: 'SIGTERM' };
const LABEL: Record<Kind, string> = { kill: 'kill -9', stop: 'SIGSTOP', term: 'SIGTERM' };

/** One log line and when this process saw it. */
interface TimedLine {
  readonly at: number;
  readonly who: string;
  readonly text: string;
}

interface Generation {
  readonly generation: number;
  readonly from_step: number;
  readonly workers: number;
  readonly start: string;
  readonly formed_at: number;
  readonly first_step_at: number | null;
  readonly ended_because: string;
}

interface Trial {
  readonly kind: Kind;
  readonly state: string;
  /** Seconds from the fault to the first step of the generation formed after it. */
  readonly recoveryS: number;
  readonly detectS: number;
  readonly reformS: number;
  readonly restartS: number;
  readonly stepsRedone: number;
  readonly stepAtFault: number;
  readonly reasons: readonly string[];
  readonly generations: readonly Generation[];
  readonly timeline: readonly TimedLine[];
  readonly t0: number;
}

/** Timestamps every line `p` prints from now on into `into`. */
function timestampLines(p: Running, who: string, into: TimedLine[]): void {
  const listen = (stream: Readable | null): void => {
    let partial = '';
    stream?.on('data', (d: Buffer) => {
      const at = Date.now();
      const parts = (partial + d.toString()).split('\n');
      partial = parts.pop()!;
      for (const text of parts) if (text.trim() !== '') into.push({ at, who, text });
    });
  };
  listen(p.child.stdout);
  listen(p.child.stderr);
}

/** The committed step rank 0 last reported (readMetricsLog skips a line still being written). */
function loggedStep(out: string): number {
  const records = readMetricsLog(join(out, 'metrics.jsonl'));
  return records.length > 0 ? records[records.length - 1]!.step : 0;
}

function newestGeneration(out: string): number {
  const records = readMetricsLog(join(out, 'metrics.jsonl'));
  return records.length > 0 ? (records[records.length - 1]!['generation'] ?? 0) : 0;
}

async function runTrial(kind: Kind, dir: string): Promise<Trial> {
  const cluster = await Cluster.start();
  const lines: TimedLine[] = [];
  try {
    timestampLines(cluster.coordinator, 'coordinator', lines);
    await Promise.all([0, 1, 2].map(() => cluster.addWorker()));
    cluster.workers.forEach((w, i) => timestampLines(w, `worker ${w.child.pid ?? i}`, lines));
    const out = join(dir, `${kind}-${Date.now()}`);
    const id = await cluster.submit([
      ...JOB,
      '--workers',
      '3',
      '--heartbeat-timeout',
      String(HEARTBEAT_TIMEOUT_S),
      '--out',
      out,
    ]);
    await until(`step ${FAULT_STEP}`, JOB_TIMEOUT_MS, () => (loggedStep(out) >= FAULT_STEP ? true : null));
    const victim = await cluster.pidOfRank(id, 1);
    const stepAtFault = loggedStep(out);
    const t0 = Date.now();
    process.kill(victim, SIGNAL[kind]);
    if (kind === 'stop') {
      await until('the next generation to train', JOB_TIMEOUT_MS, () =>
        newestGeneration(out) >= 2 ? true : null,
      );
      process.kill(victim, 'SIGCONT');
    }
    const info = await cluster.ended(id, JOB_TIMEOUT_MS);
    const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as {
      generations: Generation[];
      steps_redone: number;
      failures: Array<{ reason: string }>;
    };
    const next = summary.generations.find((g) => g.formed_at >= t0);
    if (!next || next.first_step_at === null) {
      throw new Error(
        `${kind}: no generation trained after the fault: ${JSON.stringify(summary.generations)}`,
      );
    }
    const recoveredAt = next.first_step_at;
    const ended = lines.find(
      (l) => l.who === 'coordinator' && l.at >= t0 && /(ending|draining) generation \d+/.test(l.text),
    );
    const timeline = lines.filter(
      (l) => l.at >= t0 - TIMELINE_MARGIN_MS && l.at <= recoveredAt + TIMELINE_MARGIN_MS,
    );
    return {
      kind,
      state: info.state ?? '?',
      recoveryS: (recoveredAt - t0) / 1000,
      detectS: ended ? (ended.at - t0) / 1000 : NaN,
      reformS: ended ? (next.formed_at - ended.at) / 1000 : NaN,
      restartS: (recoveredAt - next.formed_at) / 1000,
      stepsRedone: summary.steps_redone,
      stepAtFault,
      reasons: summary.failures.map((f) => f.reason),
      generations: summary.generations,
      timeline,
      t0,
    };
  } finally {
    await cluster.stop();
  }
}

const s3 = (x: number): string => (Number.isFinite(x) ? x.toFixed(3) : '-');

function printTrial(t: Trial, i: number): void {
  const gens = t.generations.map((g) => `${g.generation}:${g.workers}w@${g.from_step}(${g.start})`).join(' ');
  console.log(
    [
      `  ${LABEL[t.kind].padEnd(8)} #${i + 1}`,
      t.state.padEnd(9),
      `fault at step ${String(t.stepAtFault).padStart(3)}`,
      `recovery ${s3(t.recoveryS)} s`,
      `= detect ${s3(t.detectS)} + re-form ${s3(t.reformS)} + restart ${s3(t.restartS)}`,
      `redone ${t.stepsRedone}`,
      `failures [${t.reasons.join(',')}]`,
      `generations ${gens}`,
    ].join('  '),
  );
}

function printTimeline(t: Trial): void {
  console.log(`\ntimeline of the first ${LABEL[t.kind]} trial (ms from the fault at t0):`);
  const next = t.generations.find((g) => g.formed_at >= t.t0)!;
  const marks: TimedLine[] = [
    { at: t.t0, who: 'bench', text: `${SIGNAL[t.kind]} to rank 1` },
    { at: next.formed_at, who: 'summary', text: `generation ${next.generation} formed_at` },
    { at: next.first_step_at!, who: 'summary', text: `generation ${next.generation} first_step_at` },
  ];
  for (const l of [...t.timeline, ...marks].sort((a, b) => a.at - b.at)) {
    const text = l.text.length > 170 ? `${l.text.slice(0, 167)}...` : l.text;
    console.log(`  ${String(l.at - t.t0).padStart(6)}  ${l.who.padEnd(12)} ${text}`);
  }
}

/** Target of each kind, checked on the median (and for SIGTERM also on every trial's redone steps). */
function verdict(kind: Kind, trials: readonly Trial[]): string {
  const rec = median(trials.map((t) => t.recoveryS));
  if (kind === 'kill') return `target median < 2 s: ${rec < 2 ? 'met' : 'MISSED'}`;
  if (kind === 'stop') {
    const limit = HEARTBEAT_TIMEOUT_S + 2;
    return `target median < ${limit} s (heartbeat timeout ${HEARTBEAT_TIMEOUT_S} s + 2): ${rec < limit ? 'met' : 'MISSED'}`;
  }
  const redone = trials.every((t) => t.stepsRedone === 0);
  const left = trials.every((t) => t.reasons.length > 0 && t.reasons.every((r) => r === 'left'));
  return (
    `target 0 steps redone: ${redone ? 'met' : 'MISSED'}; median stall < 1 s: ${rec < 1 ? 'met' : 'MISSED'}; ` +
    `failures all 'left': ${left ? 'yes' : 'NO'}`
  );
}

function range(xs: readonly number[], digits: number): string {
  const f = (x: number): string => x.toFixed(digits);
  return `${f(Math.min(...xs))} / ${f(median(xs))} / ${f(Math.max(...xs))}`;
}

async function recoveryTrials(kinds: readonly Kind[], trials: number, dir: string): Promise<void> {
  const results = new Map<Kind, Trial[]>();
  for (let i = 0; i < trials; i++) {
    // Kinds interleaved, so a slow stretch of the machine does not land on one kind's trials only.
    for (const kind of kinds) {
      await waitForQuiet();
      const t = await runTrial(kind, dir);
      printTrial(t, i);
      results.set(kind, [...(results.get(kind) ?? []), t]);
    }
  }
  for (const kind of kinds) printTimeline(results.get(kind)![0]!);
  console.log(`\nrecovery (${trials} trials each; min / median / max)`);
  console.log(
    'fault      recovery s               detect s                 re-form s                restart s                steps redone',
  );
  for (const kind of kinds) {
    const ts = results.get(kind)!;
    const col = (f: (t: Trial) => number): string =>
      range(
        ts.map(f).filter((x) => Number.isFinite(x)),
        3,
      ).padEnd(24);
    console.log(
      `${LABEL[kind].padEnd(10)} ${col((t) => t.recoveryS)} ${col((t) => t.detectS)} ${col((t) => t.reformS)} ` +
        `${col((t) => t.restartS)} ${range(
          ts.map((t) => t.stepsRedone),
          0,
        )}`,
    );
    console.log(`           ${verdict(kind, ts)}`);
  }
}

interface Throughput {
  readonly imagesPerSecond: number;
  readonly trainSeconds: number;
  /**
   * Median of metrics.jsonl's per-interval rates (every --log-every steps), the first interval
   * (warm-up) left out: a neighbour's burst on these shared cores moves a few intervals, not this.
   */
  readonly intervalImagesPerSecond: number;
  /** Generations the run trained in (1 unless something re-formed it; the baseline has none). */
  readonly generations: number;
}

/** One healthy `train --workers 3` run of the checkout at `repo`. */
async function healthyRun(repo: string, out: string): Promise<Throughput> {
  const child = spawn(
    process.execPath,
    [join(repo, 'cli', 'harmonium.mjs'), 'train', ...JOB, '--workers', '3', '--out', out],
    { cwd: repo, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let text = '';
  child.stdout.on('data', (d: Buffer) => (text += d.toString()));
  child.stderr.on('data', (d: Buffer) => (text += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  if (code !== 0) throw new Error(`train in ${repo} exited with ${code}:\n${text.slice(-3000)}`);
  const s = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as {
    images_per_second: number;
    train_seconds: number;
    generations?: unknown[];
  };
  const intervals = readMetricsLog(join(out, 'metrics.jsonl'))
    .slice(1)
    .map((r) => r.images_per_second);
  return {
    imagesPerSecond: s.images_per_second,
    intervalImagesPerSecond: median(intervals),
    trainSeconds: s.train_seconds,
    generations: s.generations?.length ?? 0,
  };
}

async function throughputPairs(baseline: string, pairs: number, dir: string): Promise<void> {
  console.log(`\nhealthy throughput, 3 workers (local launcher), baseline ${baseline} against ${REPO}`);
  console.log(
    'pair  order           baseline img/s  train s   ours img/s  train s  generations  ours/baseline' +
      '   interval img/s: baseline  ours  ours/baseline',
  );
  const ratios: number[] = [];
  const intervalRatios: number[] = [];
  for (let i = 0; i < pairs; i++) {
    const baseFirst = i % 2 === 0;
    const run = async (repo: string, name: string): Promise<Throughput> => {
      await waitForQuiet();
      return healthyRun(repo, join(dir, `${name}-${i}`));
    };
    let base: Throughput;
    let ours: Throughput;
    if (baseFirst) {
      base = await run(baseline, 'baseline');
      ours = await run(REPO, 'ours');
    } else {
      ours = await run(REPO, 'ours');
      base = await run(baseline, 'baseline');
    }
    const ratio = ours.imagesPerSecond / base.imagesPerSecond;
    ratios.push(ratio);
    const intervalRatio = ours.intervalImagesPerSecond / base.intervalImagesPerSecond;
    intervalRatios.push(intervalRatio);
    console.log(
      [
        String(i + 1).padStart(4),
        (baseFirst ? 'baseline, ours' : 'ours, baseline').padEnd(15),
        base.imagesPerSecond.toFixed(0).padStart(15),
        base.trainSeconds.toFixed(2).padStart(8),
        ours.imagesPerSecond.toFixed(0).padStart(12),
        ours.trainSeconds.toFixed(2).padStart(8),
        String(ours.generations).padStart(11),
        ratio.toFixed(3).padStart(15),
        base.intervalImagesPerSecond.toFixed(0).padStart(26),
        ours.intervalImagesPerSecond.toFixed(0).padStart(5),
        intervalRatio.toFixed(3).padStart(14),
      ].join('  '),
    );
  }
  const m = median(ratios);
  const overhead = (1 - m) * 100;
  console.log(
    `median ratio ours/baseline ${m.toFixed(3)} (range ${range(ratios, 3)}): overhead ${overhead.toFixed(1)} % ` +
      `(target < 2 %: ${overhead < 2 ? 'met' : 'MISSED'})`,
  );
  const mi = median(intervalRatios);
  console.log(
    `median per-interval ratio ${mi.toFixed(3)} (range ${range(intervalRatios, 3)}): overhead ${((1 - mi) * 100).toFixed(1)} %`,
  );
}

async function main(): Promise<void> {
  const trials = Number(arg('trials', '5'));
  const kinds = arg('kinds', 'kill,stop,term').split(',') as Kind[];
  const baseline = arg('baseline', '');
  const pairs = Number(arg('pairs', '8'));
  const dir = mkdtempSync(join(tmpdir(), 'harmonium-bench-recovery-'));
  const began = Date.now();
  try {
    console.log(`job: ${JOB.join(' ')}, 3 workers, fault on rank 1 at step >= ${FAULT_STEP}`);
    if (trials > 0) await recoveryTrials(kinds, trials, dir);
    if (baseline !== '') await throughputPairs(baseline, pairs, dir);
    rmSync(dir, { recursive: true, force: true });
  } catch (err) {
    console.error(`outputs kept in ${dir}`);
    throw err;
  }
  console.log(`\nmeasured in ${((Date.now() - began) / 1000).toFixed(0)} s`);
}

await main();
