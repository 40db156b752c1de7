/**
 * Scale-out on emulated hosts (issue 15): 1, 2, 4 and 8 hosts as network namespaces on a bridge
 * (test/netns.ts), each link shaped with tbf, one worker per host and the coordinator beside worker
 * 0, all real processes over real sockets.
 *
 *   node --import tsx bench/scaling.ts [--models deep,wide] [--workers 1,2,4,8] [--rates 1000,10000]
 *     [--steps 25] [--per-worker-batch 100] [--no-gloo] [--no-jobs] [--wire bf16|fp16]
 *     [--bucket-mb 0,4]
 *
 * 1. The all-reduce of each model's parameters (float32) on the shaped links: our ring and
 *    torch.distributed gloo (one python process per host), against the ring's bound
 *    2(n-1)/n * S / link rate; with `--wire bf16`, our ring on a 16-bit wire too, as a ratio to
 *    its float32 time on the same links.
 * 2. Weak scaling: a job of `--steps` steps with `--per-worker-batch` images per worker per step
 *    (global batch n * b), the deep autoencoder (784-1000-500-250-30, 2.8M parameters) and a
 *    communication-bound wide one (784-16000-784, 25.1M). From metrics.jsonl after the first
 *    record: images/s, seconds per step, the all-reduce's share and the part of it the backward
 *    pass did not hide (allreduce_exposed_seconds), once per `--bucket-mb` (0: one all-reduce after
 *    the backward pass); weak-scaling efficiency is images/s(n) / (n * images/s(1)).
 * 3. The hosts share this machine's cores, so the measured points mix in CPU contention. A model
 *    fitted to the measured all-reduces, t(n, R) = 2(n-1) a + 2(n-1)/n * S * max(1 / (e R), c k(n)),
 *    separates the link (efficiency e), per-hop latency (a) and the CPU cost per byte (c, times the
 *    oversubscription k(n) = max(1, n / cores)); with the compute time of one worker alone it
 *    predicts each measured job (checked: predicted / measured) and then a cluster with a core per
 *    worker: 8-64 workers on 10, 25 and 100 Gbit/s, with nothing overlapped (step = compute +
 *    all-reduce), which the bucketed rows' exposed time then improves on.
 */
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { availableParallelism } from 'node:os';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NetnsHosts } from '../test/netns.js';
import { WIRE_DTYPES, type WireDtype } from '../core/collective/wire-dtype.js';
import { RANK_SCRIPT, iterationsFor, timeRing } from './ring-ranks.js';

const here = dirname(fileURLToPath(import.meta.url));
const repo = join(here, '..');
const CLI = join(repo, 'cli', 'harmonium.mjs');
const PORT = 7070;

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : fallback;
}
const numbers = (s: string): number[] => s.split(',').map(Number);

interface ModelSpec {
  readonly name: string;
  readonly layers: string;
  readonly params: number;
}

/** Parameters of a mirrored autoencoder with biases: encoder 784 -> layers, decoder back. */
function aeParams(layers: readonly number[]): number {
  const sizes = [784, ...layers];
  let n = 0;
  for (let i = 0; i + 1 < sizes.length; i++) n += 2 * sizes[i]! * sizes[i + 1]! + sizes[i + 1]! + sizes[i]!;
  return n;
}
const MODELS: Record<string, ModelSpec> = {
  deep: {
    name: 'deep AE 784-1000-500-250-30',
    layers: '1000,500,250,30',
    params: aeParams([1000, 500, 250, 30]),
  },
  wide: { name: 'wide AE 784-16000-784', layers: '16000', params: aeParams([16000]) },
};

/** The ring's bound: each rank sends and receives 2(n-1)/n of the buffer over its link. */
const ringBound = (n: number, bytes: number, mbit: number): number =>
  n < 2 ? 0 : (((2 * (n - 1)) / n) * bytes) / ((mbit * 1e6) / 8);

/** Collects a child's output; resolves its exit code. */
function watch(child: ChildProcess): { output: () => string; exit: Promise<number | null> } {
  let text = '';
  child.stdout?.on('data', (d: Buffer) => (text += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (text += d.toString()));
  const exit = once(child, 'exit').then(([code]) => code as number | null);
  return { output: () => text, exit };
}

/** Its exit code, or an error naming `what` once `ms` have passed (the caller's teardown kills it). */
async function exitWithin(
  w: { exit: Promise<number | null>; output: () => string },
  ms: number,
  what: string,
) {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`${what} did not exit within ${ms / 1000} s:\n${w.output().slice(-2000)}`)),
      ms,
    );
  });
  try {
    return await Promise.race([w.exit, late]);
  } finally {
    clearTimeout(timer);
  }
}

async function untilOutput(
  w: { output: () => string },
  pattern: RegExp,
  ms: number,
  what: string,
): Promise<void> {
  const end = Date.now() + ms;
  while (!pattern.test(w.output())) {
    if (Date.now() > end) throw new Error(`${what} did not print ${pattern} within ${ms} ms:\n${w.output()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

interface AllreducePoint {
  readonly model: string;
  readonly mbit: number;
  readonly n: number;
  readonly bytes: number;
  readonly oursS: number;
  /** Ours on `--wire` (16 bits), when asked for. */
  readonly wireS: number | null;
  readonly glooS: number | null;
}

/** Our ring and gloo, each rank in its own emulated host. */
async function allreducePoint(
  net: NetnsHosts,
  bytes: number,
  gloo: boolean,
  wire: WireDtype,
): Promise<{ ours: number; wire: number | null; gloo: number | null }> {
  const n = net.hosts.length;
  const ring = async (dtype: WireDtype): Promise<number> =>
    (
      await timeRing(n, [bytes], 1 << 20, dtype, (rank, args) =>
        net.spawn(
          rank,
          process.execPath,
          [
            ...process.execArgv,
            '--single-threaded-gc',
            RANK_SCRIPT,
            ...args,
            '--host',
            net.hosts[rank]!.address,
          ],
          { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] },
        ),
      )
    )[0]!.medianS;
  const ours = await ring('float32');
  const onWire = wire === 'float32' ? null : await ring(wire);
  let glooS: number | null = null;
  if (gloo) {
    const master = `${net.hosts[0]!.address}:29500`;
    const ranks = net.hosts.map((_, r) =>
      watch(
        net.spawn(
          r,
          '/usr/bin/python3',
          [
            join(here, 'gloo-allreduce.py'),
            ...['--world', String(n), '--rank', String(r), '--master', master],
            ...['--sizes', String(bytes), '--iters', String(iterationsFor(bytes))],
          ],
          { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, GLOO_SOCKET_IFNAME: 'eth0' } },
        ),
      ),
    );
    const codes = await Promise.all(ranks.map((r, i) => exitWithin(r, 600_000, `gloo rank ${i}`)));
    if (codes.every((c) => c === 0)) {
      glooS = (JSON.parse(ranks[0]!.output().trim().split('\n').pop()!) as { median_s: number }).median_s;
    } else {
      console.error(`gloo on ${n} hosts failed: ${ranks[0]!.output().trim().split('\n').pop()}`);
    }
  }
  return { ours, wire: onWire, gloo: glooS };
}

interface JobPoint {
  readonly model: string;
  readonly mbit: number;
  readonly n: number;
  readonly imagesPerS: number;
  readonly stepS: number;
  readonly allreduceS: number;
  readonly exposedS: number;
}

/** A weak-scaling job: the coordinator and worker 0 on host 0, worker i on host i. */
async function jobPoint(
  net: NetnsHosts,
  model: ModelSpec,
  steps: number,
  perWorker: number,
  bucketMb: number,
): Promise<JobPoint> {
  const n = net.hosts.length;
  const runs = mkdtempSync(join(tmpdir(), 'harmonium-scaling-'));
  const coordinatorAt = `${net.hosts[0]!.address}:${PORT}`;
  const piped = { stdio: ['ignore', 'pipe', 'pipe'] as ['ignore', 'pipe', 'pipe'] };
  try {
    const coordinator = watch(
      net.spawn(
        0,
        process.execPath,
        [CLI, 'coordinator', '--listen', coordinatorAt, '--insecure', '--runs-dir', runs],
        piped,
      ),
    );
    await untilOutput(coordinator, /listening on/, 30_000, 'the coordinator');
    const workers = net.hosts.map((h, i) =>
      watch(
        net.spawn(
          i,
          process.execPath,
          [
            CLI,
            'worker',
            '--coordinator',
            coordinatorAt,
            '--listen-host',
            h.address,
            '--insecure',
            '--threads',
            '1',
            '--once',
          ],
          piped,
        ),
      ),
    );
    const batch = n * perWorker;
    const submit = watch(
      net.spawn(
        0,
        process.execPath,
        [
          CLI,
          'submit',
          ...['--coordinator', coordinatorAt, '--insecure'],
          ...['--model', 'ae', '--layers', model.layers, '--limit', String(steps * batch)],
          ...['--batch-size', String(batch), '--epochs', '1', '--log-every', '5', '--workers', String(n)],
          ...['--no-eval', '--no-pictures', '--threads', '1', '--digest-every', '0', '--out', 'job'],
          ...['--bucket-mb', String(bucketMb)],
        ],
        piped,
      ),
    );
    const code = await exitWithin(submit, 1_800_000, `the job on ${n} hosts`);
    if (code !== 0) {
      throw new Error(
        `the job on ${n} hosts failed (${code}):\n${submit.output()}\n${coordinator.output().slice(-3000)}\n${workers[0]!.output().slice(-2000)}`,
      );
    }
    await Promise.all(workers.map((w, i) => exitWithin(w, 60_000, `worker ${i} after its job`)));
    const records = readFileSync(join(runs, 'job', 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, number>)
      .slice(1);
    const mean = (f: (r: Record<string, number>) => number): number =>
      records.reduce((s, r) => s + f(r), 0) / records.length;
    const imagesPerS = mean((r) => r['images_per_second']!);
    return {
      model: model.name,
      mbit: net.hosts[0]!.link.rateMbit ?? 0,
      n,
      imagesPerS,
      stepS: batch / imagesPerS,
      allreduceS: n > 1 ? mean((r) => r['allreduce_seconds']!) : 0,
      exposedS: n > 1 ? mean((r) => r['allreduce_exposed_seconds']!) : 0,
    };
  } finally {
    rmSync(runs, { recursive: true, force: true });
  }
}

/** The fitted all-reduce model: per-hop latency a (s), link efficiency e, CPU seconds per byte c. */
interface Fit {
  readonly a: number;
  readonly e: number;
  readonly c: number;
}

function modelTime(fit: Fit, n: number, bytes: number, mbit: number, oversubscription: number): number {
  if (n < 2) return 0;
  const link = 1 / (fit.e * ((mbit * 1e6) / 8));
  return 2 * (n - 1) * fit.a + ((2 * (n - 1)) / n) * bytes * Math.max(link, fit.c * oversubscription);
}

/** Least squares on log(model / measured) over a grid. */
function fitModel(points: readonly AllreducePoint[], cores: number): Fit {
  let best: Fit = { a: 0, e: 1, c: 0 };
  let bestErr = Infinity;
  for (let ai = 0; ai <= 30; ai++) {
    const a = ai === 0 ? 0 : 1e-5 * 1.3 ** ai;
    for (let ei = 20; ei <= 100; ei++) {
      const e = ei / 100;
      for (let ci = 0; ci <= 60; ci++) {
        const c = 1e-11 * 1.15 ** ci;
        const fit = { a, e, c };
        let err = 0;
        for (const p of points) {
          const r = Math.log(modelTime(fit, p.n, p.bytes, p.mbit, Math.max(1, p.n / cores)) / p.oursS);
          err += r * r;
        }
        if (err < bestErr) {
          bestErr = err;
          best = fit;
        }
      }
    }
  }
  return best;
}

const f = (x: number, d = 1): string => x.toFixed(d);

async function main(): Promise<void> {
  const models = arg('models', 'deep,wide')
    .split(',')
    .map((m) => {
      const spec = MODELS[m];
      if (!spec) throw new Error(`--models: unknown model ${m} (deep, wide)`);
      return spec;
    });
  const workers = numbers(arg('workers', '1,2,4,8'));
  const rates = numbers(arg('rates', '1000,10000'));
  const steps = Number(arg('steps', '25'));
  const perWorker = Number(arg('per-worker-batch', '100'));
  const gloo = !process.argv.includes('--no-gloo');
  const buckets = numbers(arg('bucket-mb', '0,4'));
  const jobs = !process.argv.includes('--no-jobs');
  const wire = arg('wire', 'float32') as WireDtype;
  if (!WIRE_DTYPES.includes(wire)) throw new Error(`--wire must be one of ${WIRE_DTYPES.join(', ')}`);
  const cores = availableParallelism();
  console.log(`${cores} cores shared by every emulated host; links shaped with tbf both ways`);

  const ar: AllreducePoint[] = [];
  console.log('\nall-reduce of the parameters (float32), median ms; fraction = bound / measured');
  console.log(
    'model                          Mbit/s  hosts    MiB     ours     gloo    bound  ours frac  gloo frac' +
      (wire === 'float32' ? '' : `  ours ${wire}  ${wire}/float32`),
  );
  for (const model of models) {
    const bytes = model.params * 4;
    for (const mbit of rates) {
      for (const n of workers.filter((w) => w >= 2)) {
        const net = await NetnsHosts.create({ hosts: n, rateMbit: mbit });
        try {
          const t = await allreducePoint(net, bytes, gloo, wire);
          ar.push({ model: model.name, mbit, n, bytes, oursS: t.ours, wireS: t.wire, glooS: t.gloo });
          const bound = ringBound(n, bytes, mbit);
          console.log(
            [
              model.name.padEnd(30),
              String(mbit).padStart(6),
              String(n).padStart(6),
              f(bytes / (1 << 20)).padStart(6),
              f(t.ours * 1000).padStart(8),
              (t.gloo === null ? '-' : f(t.gloo * 1000)).padStart(8),
              f(bound * 1000).padStart(8),
              f(bound / t.ours, 2).padStart(10),
              (t.gloo === null ? '-' : f(bound / t.gloo, 2)).padStart(10),
              ...(t.wire === null ? [] : [f(t.wire * 1000).padStart(10), f(t.wire / t.ours, 2).padStart(14)]),
            ].join(' '),
          );
        } finally {
          await net.destroy();
        }
      }
    }
  }
  const fit = fitModel(ar, cores);
  console.log(
    `\nfitted all-reduce model: per-hop latency ${f(fit.a * 1e6)} µs, link efficiency ${f(fit.e, 2)}, ` +
      `CPU ${f(1 / fit.c / 1e9, 2)} GB/s per rank on a core of its own`,
  );
  for (const p of ar) {
    const m = modelTime(fit, p.n, p.bytes, p.mbit, Math.max(1, p.n / cores));
    console.log(
      `  ${p.model} ${p.mbit} Mbit/s ${p.n} hosts: model ${f(m * 1000)} ms, measured ${f(p.oursS * 1000)} ms`,
    );
  }
  if (!jobs) return;

  console.log(
    `\nweak scaling, ${perWorker} images per worker per step, ${steps} steps (means after the first record)`,
  );
  console.log(
    'model                          Mbit/s  hosts  bucket MiB  images/s  step ms  all-reduce ms  exposed ms  bound ms  efficiency  predicted  pred/meas',
  );
  const single = new Map<string, JobPoint>();
  const computeAlone = new Map<string, number>();
  for (const model of models) {
    for (const mbit of rates) {
      for (const n of workers) {
        if (n === 1 && single.has(model.name)) continue;
        for (const bucketMb of n === 1 ? [0] : buckets) {
          const net = await NetnsHosts.create({ hosts: n, ...(n > 1 ? { rateMbit: mbit } : {}) });
          let p: JobPoint;
          try {
            p = await jobPoint(net, model, steps, perWorker, bucketMb);
          } finally {
            await net.destroy();
          }
          if (n === 1) {
            single.set(model.name, p);
            computeAlone.set(model.name, p.stepS);
          }
          const one = single.get(model.name)!;
          const k = Math.max(1, n / cores);
          // Shared cores: each worker's compute runs k times slower than alone.
          const predictedStep =
            computeAlone.get(model.name)! * k + modelTime(fit, n, model.params * 4, mbit, k);
          const predicted = (n * perWorker) / predictedStep;
          console.log(
            [
              model.name.padEnd(30),
              (n === 1 ? '-' : String(mbit)).padStart(6),
              String(n).padStart(6),
              (n === 1 ? '-' : String(bucketMb)).padStart(11),
              f(p.imagesPerS, 0).padStart(9),
              f(p.stepS * 1000).padStart(8),
              f(p.allreduceS * 1000).padStart(14),
              f(p.exposedS * 1000).padStart(11),
              f(ringBound(n, model.params * 4, mbit) * 1000).padStart(9),
              f(p.imagesPerS / (n * one.imagesPerS), 2).padStart(11),
              f(predicted, 0).padStart(10),
              f(predicted / p.imagesPerS, 2).padStart(10),
            ].join(' '),
          );
        }
      }
    }
  }

  console.log(
    '\npredicted for a cluster with a core per worker (no overlap): images/s (weak-scaling efficiency)',
  );
  const predictWorkers = [8, 16, 32, 64];
  const predictRates = [10_000, 25_000, 100_000];
  console.log(
    `model                          Gbit/s  ${predictWorkers.map((n) => `${n} workers`.padStart(17)).join('')}`,
  );
  for (const model of models) {
    const tc = computeAlone.get(model.name)!;
    for (const mbit of predictRates) {
      const cells = predictWorkers.map((n) => {
        const step = tc + modelTime(fit, n, model.params * 4, mbit, 1);
        return `${f((n * perWorker) / step, 0)} (${f(tc / step, 2)})`.padStart(17);
      });
      console.log(`${model.name.padEnd(30)} ${String(mbit / 1000).padStart(6)}  ${cells.join('')}`);
    }
  }
}

await main();
