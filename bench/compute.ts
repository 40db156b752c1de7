/**
 * Does a Harmonium worker compute as fast as PyTorch? One training step (model step + optimizer
 * update) of each reference workload of ../shared/reference/torch-train-steps.py on our backend,
 * next to the same workload in PyTorch CPU with the same batch and thread count, measured in the
 * same run; the whole `harmonium train` loop of the same workload on Fashion-MNIST against that bare
 * step; and sgemm GFLOP/s through the native addon next to numpy.matmul (OpenBLAS on Debian).
 *
 *   node --import tsx bench/compute.ts [--backend native|wasm|cpu|...] [--threads 1,2] [--steps 30]
 *                                      [--batch 100] [--json out.json]
 *
 * Every figure is the median of per-step (per-sample) timings after 3 warm-up steps, on both sides:
 * the machine is shared and noisy, and a median shrugs off the steps a neighbour interrupted. For each
 * thread count ours runs first, then PyTorch (ours T=1, torch T=1, ours T=2, torch T=2), so slow drift
 * of the machine's load hits both columns of a row alike; each side of each thread count in a fresh
 * process of its own (ours: this script with --ours-at T). Speed is reported only as ratios against
 * that same-run reference, never as a pass/fail claim. The reference column needs Debian's
 * python3-torch under /usr/bin/python3 (the pyenv python on PATH lacks it); without it our times are
 * still printed, with a note.
 */
import { median, positiveInt, reason } from './machine.js';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { selectBackend, type BackendChoice, type BackendInfo } from '../core/compute/backend.js';
import { loadNativeAddon, type NativeAddon } from '../core/compute/native-addon.js';
import { Rng } from '../core/data/rng.js';
import type { HyperValues } from '../core/models/hyper.js';
import { findModel } from '../core/models/registry.js';
import { createOptimizer } from '../core/train/create-optimizer.js';

const PYTHON = '/usr/bin/python3';
const REPO = join(dirname(fileURLToPath(import.meta.url)), '..');
const WARMUP = 3;
const INPUT_SIZE = 784;
/** A sgemm sample repeats the product until it lasts about this long, so timer overhead is negligible. */
const GEMM_SAMPLE_MS = 5;
/** Steps of `harmonium train` before its CLI-loop row starts timing (see measureCliLoop). */
const CLI_WARMUP_STEPS = 100;

/** One training workload, built to do the same work as its namesake in bench/torch-compute.py. */
interface Workload {
  /** Row name, identical to the `workload` field the Python side prints. */
  readonly name: string;
  readonly kind: string;
  readonly label: string;
  readonly hyper: HyperValues;
  /** Learning rate and SGD momentum; the work does not depend on their values, only on their use. */
  readonly lr: number;
  readonly momentum: number;
  /** The RBM's CD-1 reference samples binary visible data; the autoencoders reconstruct [0, 1]. */
  readonly input: 'uniform' | 'binary';
}

const WORKLOADS: readonly Workload[] = [
  {
    // loss 'mse' is a sigmoid output with squared error summed over pixels and averaged over images;
    // torch's nn.functional.mse_loss averages over all elements. The loss (and gradient) differ by a
    // constant factor of 784, the computation is the same.
    name: 'deep-ae',
    kind: 'ae',
    label: '784-1000-500-250-30 sigmoid, MSE',
    hyper: { layers: [1000, 500, 250, 30], activation: 'sigmoid', 'code-activation': 'linear', loss: 'mse' },
    lr: 0.01,
    momentum: 0.9,
    input: 'uniform',
  },
  {
    // Hinton's guide values, as the rbm entry trains after its momentum switch (lr 0.1, momentum 0.9,
    // weight decay 2e-4 by default); the Python side uses the same.
    name: 'rbm',
    kind: 'rbm',
    label: 'Bernoulli 784-500 CD-1',
    hyper: { hidden: 500, k: 1 },
    lr: 0.1,
    momentum: 0.9,
    input: 'binary',
  },
  {
    // Its defaults are torch-train-steps.py's conv AE (1-16-8 conv + max-pool, 2 transposed convs,
    // sigmoid output) with loss 'mse': the same per-image-sum versus per-element-mean scale as deep-ae.
    name: 'conv-ae',
    kind: 'conv-ae',
    label: 'conv AE (defaults), MSE',
    hyper: {},
    lr: 0.01,
    momentum: 0.9,
    input: 'uniform',
  },
];

/** One sgemm, out (m x n) = a (m x k) * b (k x n), row-major float32. */
interface Gemm {
  readonly name: string;
  readonly m: number;
  readonly k: number;
  readonly n: number;
}

/** A batch of 100 through a 784-500 layer, and a square product where BLAS reaches its peak. */
const GEMMS: readonly Gemm[] = [
  { name: 'sgemm-100x784x500', m: 100, k: 784, n: 500 },
  { name: 'sgemm-1000x1000x1000', m: 1000, k: 1000, n: 1000 },
];

interface Options {
  readonly backend: BackendChoice;
  readonly threads: readonly number[];
  readonly steps: number;
  readonly batch: number;
  readonly json: string | null;
}

/** A measurement, or why it could not be taken (shown in its table cell). */
type Measured = { readonly value: number } | { readonly unavailable: string };

/** What the Python reference printed for one thread count. */
interface Reference {
  readonly stepMs: ReadonlyMap<string, number>;
  readonly gflops: ReadonlyMap<string, number>;
  /** Versions, thread count and BLAS libraries, as the script reports them; null if it did not run. */
  readonly info: Record<string, unknown> | null;
  readonly notes: readonly string[];
}

/** Everything measured at one thread count. */
interface ThreadRun {
  readonly threads: number;
  readonly backend: BackendInfo;
  readonly stepMs: ReadonlyMap<string, Measured>;
  /** The whole `harmonium train` loop, ms per step. */
  readonly cliMs: ReadonlyMap<string, Measured>;
  readonly gflops: ReadonlyMap<string, Measured>;
  readonly reference: Reference;
  /**
   * 1-minute load average as each side started. The machine is shared: when load plus threads
   * exceeds the cores, that side's threads compete with other processes, and OpenMP workers that
   * spin at barriers (PyTorch's) can slow down many-fold. Printed so a reader can tell such rows.
   */
  readonly load: { readonly ours: number; readonly torch: number };
}

/** The value after `--name`, or `fallback` when the flag is absent or followed by another flag. */
function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  const value = i >= 0 ? process.argv[i + 1] : undefined;
  return value !== undefined && !value.startsWith('--') ? value : fallback;
}

/** The command line, with the defaults of the issue: native, threads 1 and 2, 30 steps, batch 100. */
function parseOptions(): Options {
  return {
    // Not checked against BACKEND_CHOICES here: selectBackend names the valid choices when it refuses.
    backend: arg('backend', 'native') as BackendChoice,
    threads: arg('threads', '1,2')
      .split(',')
      .map((t) => positiveInt('threads', t)),
    steps: positiveInt('steps', arg('steps', '30')),
    batch: positiveInt('batch', arg('batch', '100')),
    json: process.argv.includes('--json') ? arg('json', '') || null : null,
  };
}

/** Median wall time of one call of `step` after the warm-up calls, in milliseconds. */
function medianStepMs(step: () => void, steps: number): number {
  for (let i = 0; i < WARMUP; i++) step();
  const times: number[] = [];
  for (let i = 0; i < steps; i++) {
    const t = performance.now();
    step();
    times.push(performance.now() - t);
  }
  return median(times);
}

/** The fixed random batch a workload reads: uniform in [0, 1), or those values thresholded at 0.5. */
function makeInput(kind: Workload['input'], batch: number): Float32Array {
  const x = new Rng(7).fillUniform(new Float32Array(batch * INPUT_SIZE));
  if (kind === 'binary') for (let i = 0; i < x.length; i++) x[i] = x[i]! < 0.5 ? 0 : 1;
  return x;
}

/** Our median step time for one workload: model.step, then the SGD update, as the trainer does. */
function measureWorkload(w: Workload, batch: number, steps: number): Measured {
  try {
    const model = findModel(w.kind).create(INPUT_SIZE, w.hyper);
    const rng = new Rng(1);
    const params = model.init(rng);
    // As the training loop does: one gradient buffer for every step.
    const grads = new Float32Array(params.length);
    const opt = createOptimizer({ optimizer: 'sgd', momentum: w.momentum }, params.length);
    const x = makeInput(w.input, batch);
    const value = medianStepMs(() => {
      const r = model.step(params, x, batch, rng, grads);
      opt.step(params, r.grads, w.lr);
    }, steps);
    return { value };
  } catch (err) {
    // A workload whose model is not registered yet (or fails) costs its row, not the whole run.
    return { unavailable: reason(err) };
  }
}

/** Median GFLOP/s of one product straight through the addon (no tfjs in between). */
function measureGemm(addon: NativeAddon, g: Gemm, steps: number): number {
  const rng = new Rng(3);
  const a = rng.fillUniform(new Float32Array(g.m * g.k));
  const b = rng.fillUniform(new Float32Array(g.k * g.n));
  const out = new Float32Array(g.m * g.n);
  const call = (): void => addon.gemm(false, false, 1, g.m, g.n, g.k, a, 0, b, 0, out, null, 0, 0);
  for (let i = 0; i < WARMUP; i++) call();
  const t = performance.now();
  call();
  const inner = Math.max(1, Math.floor(GEMM_SAMPLE_MS / Math.max(performance.now() - t, 1e-6)));
  const rates: number[] = [];
  for (let s = 0; s < steps; s++) {
    const start = performance.now();
    for (let i = 0; i < inner; i++) call();
    rates.push((2 * g.m * g.n * g.k * inner) / ((performance.now() - start) * 1e6));
  }
  return median(rates);
}

/** Every sgemm at `threads`, or each marked unavailable with the reason the addon did not load. */
function measureGemms(threads: number, steps: number): Map<string, Measured> {
  const loaded = loadNativeAddon();
  const out = new Map<string, Measured>();
  for (const g of GEMMS) {
    if ('error' in loaded) {
      out.set(g.name, { unavailable: reason(loaded.error) });
      continue;
    }
    // selectBackend('native') sets this already; set here too so the rows hold for any --backend.
    loaded.addon.setThreads(threads);
    out.set(g.name, { value: measureGemm(loaded.addon, g, steps) });
  }
  return out;
}

/** Our bare step and sgemm rows at one thread count, in this process (the `--ours-at T` child). */
async function measureOursHere(
  opts: Options,
  threads: number,
): Promise<Pick<ThreadRun, 'backend' | 'stepMs' | 'gflops'>> {
  const backend = await selectBackend(opts.backend, { threads });
  const stepMs = new Map<string, Measured>();
  for (const w of WORKLOADS) stepMs.set(w.name, measureWorkload(w, opts.batch, opts.steps));
  return { backend, stepMs, gflops: measureGemms(threads, opts.steps) };
}

/**
 * Our side at one thread count: the bare steps and sgemm in a fresh process of their own (as
 * PyTorch's side runs, and as a user's job runs at one thread count: measured in the process that
 * had just run the 1-thread rows, the 2-thread conv AE step took 16-18 ms, in a fresh one 13-14),
 * then the whole CLI loop of every workload.
 */
async function measureOurs(
  opts: Options,
  threads: number,
): Promise<Pick<ThreadRun, 'backend' | 'stepMs' | 'cliMs' | 'gflops'>> {
  const child = spawnSync(
    process.execPath,
    [
      '--import',
      'tsx',
      fileURLToPath(import.meta.url),
      ...['--ours-at', String(threads), '--backend', opts.backend],
      ...['--steps', String(opts.steps), '--batch', String(opts.batch)],
    ],
    { encoding: 'utf8', timeout: 600_000, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const line = (child.stdout ?? '').split('\n').find((l) => l.startsWith('{'));
  if (child.status !== 0 || line === undefined) {
    throw new Error(
      `bench/compute.ts --ours-at ${threads} failed: ${(child.stderr ?? '').trim().split('\n').pop()}`,
    );
  }
  const here = JSON.parse(line) as {
    backend: BackendInfo;
    stepMs: [string, Measured][];
    gflops: [string, Measured][];
  };
  const stepMs = new Map(here.stepMs);
  for (const w of WORKLOADS) {
    const m = stepMs.get(w.name);
    console.error(
      `ours  T=${threads} ${w.name}: ${m && 'value' in m ? `${m.value.toFixed(1)} ms` : m?.unavailable}`,
    );
  }
  const cliMs = new Map<string, Measured>();
  for (const w of WORKLOADS) {
    const m = measureCliLoop(w, threads, opts.batch, opts.steps);
    cliMs.set(w.name, m);
    console.error(
      `cli   T=${threads} ${w.name}: ${'value' in m ? `${m.value.toFixed(1)} ms` : m.unavailable}`,
    );
  }
  return { backend: here.backend, stepMs, cliMs, gflops: new Map(here.gflops) };
}

/** The CLI flags of a workload's hyperparameters (lists comma-separated). */
function hyperFlags(hyper: HyperValues): string[] {
  return Object.entries(hyper).flatMap(([k, v]) => [`--${k}`, Array.isArray(v) ? v.join(',') : String(v)]);
}

/**
 * The whole loop a user runs, `harmonium train` on Fashion-MNIST with the workload's model and SGD
 * settings: the median over metrics.jsonl records of batch / images_per_second, in ms per step,
 * after CLI_WARMUP_STEPS. A fresh process needs that many steps before V8's compiler and heap settle
 * (measured: an RBM step at 2 threads costs 5.8 ms over the first 40 steps, 4.4 ms from the 100th);
 * a user's job runs thousands of steps, so the settled loop is the one to compare.
 */
function measureCliLoop(w: Workload, threads: number, batch: number, steps: number): Measured {
  const out = mkdtempSync(join(tmpdir(), 'harmonium-bench-compute-'));
  const logEvery = 5;
  // As many timed records as the bare step has timed steps, each the mean of logEvery steps.
  const records = steps;
  try {
    const r = spawnSync(
      process.execPath,
      [
        join(REPO, 'cli', 'harmonium.mjs'),
        ...['train', '--model', w.kind, ...hyperFlags(w.hyper), '--optimizer', 'sgd'],
        ...['--lr', String(w.lr), '--momentum', String(w.momentum), '--batch-size', String(batch)],
        ...[
          '--epochs',
          '1',
          '--limit',
          String((CLI_WARMUP_STEPS + records * logEvery) * batch),
          '--log-every',
          String(logEvery),
        ],
        ...['--no-eval', '--no-pictures', '--digest-every', '0', '--threads', String(threads), '--out', out],
      ],
      { encoding: 'utf8', timeout: 600_000, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    if (r.status !== 0)
      return { unavailable: `harmonium train failed: ${(r.stderr ?? '').trim().split('\n').pop()}` };
    const settled = readFileSync(join(out, 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .slice(CLI_WARMUP_STEPS / logEvery)
      .map((l) => JSON.parse(l) as { images_per_second: number });
    return { value: median(settled.map((x) => (batch / x.images_per_second) * 1000)) };
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

/** Runs bench/torch-compute.py at `threads` and collects its JSON lines. */
function runReference(opts: Options, threads: number): Reference {
  const script = join(dirname(fileURLToPath(import.meta.url)), 'torch-compute.py');
  const t = String(threads);
  const py = spawnSync(
    PYTHON,
    [script, '--threads', t, '--batch', String(opts.batch), '--steps', String(opts.steps)],
    {
      encoding: 'utf8',
      // Belt and braces: the script sets these before its imports too, and calls torch.set_num_threads.
      env: { ...process.env, OMP_NUM_THREADS: t, OPENBLAS_NUM_THREADS: t, MKL_NUM_THREADS: t },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const stepMs = new Map<string, number>();
  const gflops = new Map<string, number>();
  const notes: string[] = [];
  let info: Record<string, unknown> | null = null;
  for (const line of (py.stdout ?? '').split('\n')) {
    // Only our JSON lines; a library that prints a banner or warning to stdout must not end the run.
    if (!line.startsWith('{')) continue;
    const r = JSON.parse(line) as {
      workload?: string;
      step_ms?: number;
      gflops?: number;
      info?: Record<string, unknown>;
      note?: string;
    };
    if (r.info) info = r.info;
    if (r.note) notes.push(r.note);
    if (r.workload !== undefined && r.step_ms !== undefined) stepMs.set(r.workload, r.step_ms);
    if (r.workload !== undefined && r.gflops !== undefined) gflops.set(r.workload, r.gflops);
  }
  if (py.error || py.status !== 0) {
    const why = py.error ? reason(py.error) : (py.stderr ?? '').trim().split('\n').pop();
    notes.push(
      `${PYTHON} ${script} failed at T=${threads} (apt-get install python3-torch python3-numpy): ${why}`,
    );
  }
  for (const n of notes) console.error(`torch T=${threads}: ${n}`);
  return { stepMs, gflops, info, notes };
}

/** A number for a table cell; `missing` where there is none. */
function fmt(value: number | null, digits: number, missing = '-'): string {
  return value === null ? missing : value.toFixed(digits);
}

/** ours / reference where both exist. */
function ratio(ours: Measured | undefined, ref: number | undefined): number | null {
  return ours && 'value' in ours && ref !== undefined ? ours.value / ref : null;
}

/** Left-aligns the first `textColumns` columns, right-aligns the rest (numbers). */
function table(header: readonly string[], rows: readonly (readonly string[])[], textColumns: number): string {
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c]!.length)));
  const line = (cells: readonly string[]): string =>
    cells.map((s, c) => (c < textColumns ? s.padEnd(widths[c]!) : s.padStart(widths[c]!))).join('  ');
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

/** The report as plain data: the --json file, and what the tables are printed from. */
function buildReport(opts: Options, runs: readonly ThreadRun[]) {
  const steps = runs.flatMap((run) =>
    WORKLOADS.map((w) => {
      const ours = run.stepMs.get(w.name);
      const torch = run.reference.stepMs.get(w.name);
      return {
        workload: w.name,
        architecture: w.label,
        threads: run.threads,
        ours_ms: ours && 'value' in ours ? ours.value : null,
        ours_unavailable: ours && 'unavailable' in ours ? ours.unavailable : null,
        torch_ms: torch ?? null,
        ours_over_torch: ratio(ours, torch),
      };
    }),
  );
  const sgemm = runs.flatMap((run) =>
    GEMMS.map((g) => {
      const ours = run.gflops.get(g.name);
      const numpy = run.reference.gflops.get(g.name);
      return {
        workload: g.name,
        threads: run.threads,
        ours_gflops: ours && 'value' in ours ? ours.value : null,
        ours_unavailable: ours && 'unavailable' in ours ? ours.unavailable : null,
        numpy_gflops: numpy ?? null,
        ours_over_numpy: ratio(ours, numpy),
      };
    }),
  );
  const cli = runs.flatMap((run) =>
    WORKLOADS.map((w) => {
      const loop = run.cliMs.get(w.name);
      const bare = run.stepMs.get(w.name);
      const loopMs = loop && 'value' in loop ? loop.value : null;
      return {
        workload: w.name,
        threads: run.threads,
        cli_ms: loopMs,
        cli_unavailable: loop && 'unavailable' in loop ? loop.unavailable : null,
        bare_ms: bare && 'value' in bare ? bare.value : null,
        cli_over_bare: bare && 'value' in bare && loopMs !== null ? loopMs / bare.value : null,
        cli_over_torch: ratio(loop, run.reference.stepMs.get(w.name)),
      };
    }),
  );
  const addon = loadNativeAddon();
  return {
    batch: opts.batch,
    steps: opts.steps,
    warmup: WARMUP,
    statistic: 'median',
    cores: availableParallelism(),
    load_average_1min: runs.map((r) => ({ threads: r.threads, ...r.load })),
    backend: runs.map((r) => ({ requested_threads: r.threads, ...r.backend })),
    blas: 'addon' in addon ? addon.addon.blasConfig() : `native addon unavailable: ${reason(addon.error)}`,
    reference: runs.map((r) => ({ threads: r.threads, info: r.reference.info, notes: r.reference.notes })),
    steps_ms: steps,
    cli_loop_ms: cli,
    sgemm,
  };
}

type Report = ReturnType<typeof buildReport>;

/** The header lines: what ran on each side, at which thread counts. */
function formatHeader(report: Report): string {
  const first = report.backend[0]!;
  const threads = report.backend.map((b) => `${b.requested_threads}: ${b.threads ?? 'library-managed'}`);
  const load = report.load_average_1min.map(
    (l) => `T=${l.threads} ours ${l.ours.toFixed(1)} torch ${l.torch.toFixed(1)}`,
  );
  const ref = report.reference.find((r) => r.info)?.info;
  const lines = [
    `bench/compute: batch ${report.batch}, median of ${report.steps} timed steps after ${report.warmup} warm-up`,
    `machine: ${report.cores} cores; 1-min load average as each side started: ${load.join(', ')}`,
    `ours:  backend ${first.name} (${first.package}), threads (requested: in use) ${threads.join(', ')}`,
    `       addon BLAS: ${report.blas}`,
    // Set before the addon loaded OpenBLAS (core/compute/blas-core.ts) and inherited by the reference.
    `both:  OPENBLAS_CORETYPE=${process.env['OPENBLAS_CORETYPE'] ?? '(unset: OpenBLAS detects the core)'}`,
    ref
      ? `torch: ${ref['torch'] ? `PyTorch ${String(ref['torch'])} CPU` : 'PyTorch absent'}, numpy ${String(ref['numpy'])}, BLAS ${(ref['blas'] as string[]).join(' ')}`
      : 'torch: reference did not run',
  ];
  for (const r of report.reference) for (const n of r.notes) lines.push(`note T=${r.threads}: ${n}`);
  return lines.join('\n');
}

/** One line per workload that could not run on our side, naming why (once, whatever the threads). */
function unavailableLines(rows: readonly { workload: string; ours_unavailable: string | null }[]): string[] {
  const lines = rows
    .filter((r) => r.ours_unavailable !== null)
    .map((r) => `${r.workload}: not available (${r.ours_unavailable})`);
  return [...new Set(lines)];
}

/** Step-time and sgemm tables; a row we could not run reads n/a, its reason below the table. */
function formatTables(report: Report): string {
  const stepRows = report.steps_ms.map((s) => [
    s.workload,
    s.architecture,
    String(s.threads),
    fmt(s.ours_ms, 1, 'n/a'),
    fmt(s.torch_ms, 1),
    fmt(s.ours_over_torch, 2),
  ]);
  const cliRows = report.cli_loop_ms.map((c) => [
    c.workload,
    String(c.threads),
    fmt(c.cli_ms, 1, 'n/a'),
    fmt(c.bare_ms, 1),
    fmt(c.cli_over_bare, 2),
    fmt(c.cli_over_torch, 2),
  ]);
  const gemmRows = report.sgemm.map((g) => [
    g.workload,
    String(g.threads),
    fmt(g.ours_gflops, 1, 'n/a'),
    fmt(g.numpy_gflops, 1),
    fmt(g.ours_over_numpy, 2),
  ]);
  return [
    'one training step (model step + SGD update), ms; ours/torch < 1 means ours is faster',
    table(['workload', 'architecture', 'threads', 'ours ms', 'torch ms', 'ours/torch'], stepRows, 2),
    ...unavailableLines(report.steps_ms),
    '',
    'the whole CLI loop (harmonium train on Fashion-MNIST, ms per step from metrics.jsonl images/s) against the bare step above',
    table(['workload', 'threads', 'cli ms', 'bare ms', 'cli/bare', 'cli/torch'], cliRows, 1),
    ...[
      ...new Set(
        report.cli_loop_ms.filter((c) => c.cli_unavailable).map((c) => `${c.workload}: ${c.cli_unavailable}`),
      ),
    ],
    '',
    'sgemm m x k x n, float32, GFLOP/s; ours/numpy > 1 means ours is faster',
    table(['workload', 'threads', 'ours GFLOP/s', 'numpy GFLOP/s', 'ours/numpy'], gemmRows, 1),
    ...unavailableLines(report.sgemm),
  ].join('\n');
}

const opts = parseOptions();
const oursAt = process.argv.includes('--ours-at') ? positiveInt('ours-at', arg('ours-at', '')) : null;
if (oursAt !== null) {
  const here = await measureOursHere(opts, oursAt);
  console.log(JSON.stringify({ backend: here.backend, stepMs: [...here.stepMs], gflops: [...here.gflops] }));
  process.exit(0);
}
const runs: ThreadRun[] = [];
for (const threads of opts.threads) {
  const oursLoad = loadavg()[0]!;
  const ours = await measureOurs(opts, threads);
  const torchLoad = loadavg()[0]!;
  runs.push({
    threads,
    ...ours,
    reference: runReference(opts, threads),
    load: { ours: oursLoad, torch: torchLoad },
  });
}
const report = buildReport(opts, runs);
console.log(`${formatHeader(report)}\n\n${formatTables(report)}`);
if (opts.json) writeFileSync(opts.json, `${JSON.stringify(report, null, 2)}\n`);
