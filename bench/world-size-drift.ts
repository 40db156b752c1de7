/**
 * Why does the deep AE (784-1000-500-250-30 ReLU, Adam 1e-3, global batch 100, Fashion-MNIST) end
 * with a higher test SSE on 4 workers than on 1? Trains, in ONE process and in lockstep (step by
 * step, all variants side by side), the same job in several arithmetic variants and reports the
 * test SSE/image of each, their loss curves and how fast their parameters drift apart from A's:
 *
 *   A  one rank, the whole batch of 100 (the single worker)
 *   B  4 ranks of 25 over in-memory process groups, float32 ring 'avg' (the cluster's arithmetic)
 *   C  4 ranks of 25, the 4 gradients averaged in float64 and rounded once (no ring)
 *   D  as A, initial parameters nudged by +1 ulp (magnitude) in a fixed pseudo-random 1 % of entries
 *   E  as A, native backend at 2 threads for this variant's model steps
 *   F  as A, the 100 images of every batch in reverse order (same maths, another summation order in
 *      every gradient GEMM)
 *   G  as B, the ranks' order around the ring reversed (rank r trains share 3 - r): same kind of
 *      arithmetic as B, another rounding
 *
 * Each variant mirrors core/train/training-loop.ts: its ranks read their shares of every global
 * batch (BatchSource.shareOf) and draw from the SampleNoise of their positions (the deep AE draws
 * none, which is also why F needs no reversed noise); a ring variant all-reduces the loop's buffer
 * [grads | loss | drain vote] with 'avg' (4 equal shares carry weight 1, and the deep AE reports no
 * extras); every variant commits through its own TrainingState, so the phase's optimizer and lr
 * schedule are the loop's own. --verify runs runTrainingLoop for A (alone) and B (4 ranks) over
 * the 30 steps of a 3,000-image epoch and fails unless this file's A and B end with bit-identical
 * parameters: that is what makes the other numbers the loop's.
 *
 * --grad-check trains nothing but A: for the first seed it compares the gradient of the first
 * global batch, and again after 50 steps of A, taken as one batch of 100 (A), as the float32 ring
 * average (B) and as the rounded float64 average (C) of 4 batches of 25, against the unrounded
 * float64 average. It shows whether splitting the batch changes the gradient beyond rounding
 * (rel rms ~1e-7) on the backend given.
 *
 *   nice -n 19 node --import tsx bench/world-size-drift.ts --seeds 1-8 --epochs 2 \
 *       --variants A,B,C,D,E,F --out bench/out/drift.jsonl [--steps N] [--verify] [--backend wasm] \
 *       [--loss-steps 200]
 *   nice -n 19 node --import tsx bench/world-size-drift.ts --grad-check [--seeds 1] [--backend wasm]
 *   python3 bench/world-size-drift-report.py bench/out/drift.jsonl
 *   (A is the reference and must be run; E needs the native backend, the default)
 *
 * Measured on 2026-12-03, 6 seeds of 2 epochs (1,200 steps), native backend at 1 thread: test
 * SSE/image means A 11.287, B 11.383, C 11.226, D 11.284, E 11.236, F 11.462. Paired over the seeds
 * (mean +- sd), B - A is +0.096 +- 0.236 (t = 1.0, 4/6 positive) where D - A, a 1-ulp nudge of one
 * worker, is -0.003 +- 0.231; the pooled within-seed sd of the rounding-only one-rank variants
 * (A, D, E, F) is 0.163, so two runs that differ in rounding alone differ by ~0.23 (sd). After 1,200
 * steps ||p_B - p_A|| / ||p_A|| is 0.44, about what D, E and F reach (0.46, 0.45, 0.40). So the
 * 1-vs-4-worker SSE gap is chaotic amplification of float32 rounding, with the same spread as
 * rounding-only perturbations of one worker, not a systematic effect of the world size.
 *
 * Those numbers come from the pre-elastic loop, whose arithmetic for 4 equal shares of 25 is the
 * current loop's (weight 1, the same float32 ring 'avg', the same Adam commit) but for one thing:
 * its buffer [grads | loss] was one float shorter than [grads | loss | drain vote], and the ring
 * cuts its chunks from the buffer's length, so 3 of the 2,837,314 gradient entries (709328, 1418657,
 * 2127986) now sit in the neighbouring chunk and are summed in another order. A rerun of B is
 * another trajectory of the same kind, not the 2026-12-03 bits.
 */
import { appendFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { selectBackend } from '../core/compute/backend.js';
import { createMemoryProcessGroups } from '../core/collective/memory-process-group.js';
import type { ProcessGroup } from '../core/collective/process-group.js';
import { compileJobConfig, type JobConfig } from '../core/config/job-config.js';
import type { Batch } from '../core/data/batch-source.js';
import { deriveSeed, Rng } from '../core/data/rng.js';
import { SampleNoise } from '../core/data/sample-noise.js';
import type { BatchShare } from '../core/data/sampler.js';
import { reconstructionError } from '../core/eval/reconstruction.js';
import { setUpRun, type RunSetup } from '../core/train/run-setup.js';
import type { TrainingHost } from '../core/train/training-host.js';
import { collectiveTag, paramDigest, runTrainingLoop, SEED_STREAM } from '../core/train/training-loop.js';
import { TrainingState } from '../core/train/training-state.js';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : fallback;
}
const flag = (name: string): boolean => process.argv.includes(`--${name}`);

function parseSeeds(s: string): number[] {
  return s.split(',').flatMap((part) => {
    const m = /^(\d+)-(\d+)$/.exec(part);
    if (!m) return [Number(part)];
    const out: number[] = [];
    for (let i = Number(m[1]); i <= Number(m[2]); i++) out.push(i);
    return out;
  });
}

const seeds = parseSeeds(arg('seeds', '1'));
const epochs = arg('epochs', '2');
const variantNames = arg('variants', 'A,B,C,D,E,F').split(',');
const outPath = arg('out', 'bench/out/drift.jsonl');
const maxSteps = Number(arg('steps', '0'));
const backendName = arg('backend', 'native');
const lossSteps = Number(arg('loss-steps', '200'));
const RANKS = 4;
/** Generous: 4 ranks in one process take their model steps one after another before each reduce. */
const TIMEOUT_MS = 600_000;
const THRESHOLDS = [1e-6, 1e-4, 1e-2] as const;
const SNAP_STEPS = new Set([1, 2, 3, 5, 10, 20, 50, 100, 200, 300, 400, 600, 800, 1000, 1200]);

function jobConfig(seed: number, workers: number, extra: Record<string, string> = {}): JobConfig {
  const flags: Record<string, string> = {
    epochs,
    ...extra,
    model: 'ae',
    layers: '1000,500,250,30',
    activation: 'relu',
    seed: String(seed),
    workers: String(workers),
    backend: backendName,
    threads: '1',
    data: 'fashion-mnist',
  };
  return compileJobConfig({ flags: new Map(Object.entries(flags)), env: {}, jobFile: null });
}

function initParams(setup: RunSetup, seed: number): Float32Array {
  return setup.model.init(new Rng(deriveSeed(seed, SEED_STREAM.init)));
}

/** +1 ulp in magnitude (next float32 away from zero) in a fixed pseudo-random 1 % of entries. */
function nudge(params: Float32Array, seed: number): number {
  const bits = new Uint32Array(params.buffer, params.byteOffset, params.length);
  const rng = new Rng(deriveSeed(seed, 0xd1ff));
  let n = 0;
  for (let i = 0; i < params.length; i++) {
    if (rng.uniform() < 0.01 && params[i] !== 0) {
      bits[i] = bits[i]! + 1;
      n++;
    }
  }
  return n;
}

interface Distance {
  readonly max: number;
  readonly differ: number;
  readonly rel: number;
}

type Kind = 'single' | 'ring' | 'f64';
interface Variant {
  readonly name: string;
  readonly kind: Kind;
  readonly setup: RunSetup;
  /** Rank r's share of every global batch. */
  readonly shares: readonly BatchShare[];
  readonly threads: number;
  readonly reverse: boolean;
  readonly state: TrainingState;
  /** Per rank, the loop's all-reduce layout [grads | loss | drain vote]; the gradient is written there. */
  readonly packed: Float32Array[];
  readonly groups: ProcessGroup[] | null;
  readonly avg: Float32Array;
  readonly losses: number[];
  readonly firstExceed: Record<string, number | null>;
  readonly snaps: Record<number, Distance>;
  iters: AsyncIterator<Batch>[];
  modelSeconds: number;
}

function makeVariant(name: string, seed: number, setup: RunSetup): Variant {
  const four = name === 'B' || name === 'C' || name === 'G';
  const { source } = setup;
  const shares = four
    ? Array.from({ length: RANKS }, (_, r) => source.shareOf(name === 'G' ? RANKS - 1 - r : r, RANKS))
    : [source.shareOf(0, 1)];
  if (four && shares.some((s) => s.count * RANKS !== setup.config.batchSize)) {
    throw new Error(
      `variant ${name}: the global batch ${setup.config.batchSize} is not ${RANKS} equal shares`,
    );
  }
  const params = initParams(setup, seed);
  if (name === 'D')
    console.error(`  D: nudged ${nudge(params, seed)} of ${params.length} initial parameters by 1 ulp`);
  return {
    name,
    kind: name === 'C' ? 'f64' : four ? 'ring' : 'single',
    setup,
    shares,
    threads: name === 'E' ? 2 : 1,
    reverse: name === 'F',
    state: new TrainingState(setup, { params, cursor: { epoch: 0, step: 0, imagesSeen: 0 } }),
    packed: shares.map(() => new Float32Array(params.length + 2)),
    groups: four && name !== 'C' ? createMemoryProcessGroups(RANKS) : null,
    avg: new Float32Array(params.length),
    losses: [],
    firstExceed: Object.fromEntries(THRESHOLDS.map((t) => [String(t), null])),
    snaps: {},
    iters: [],
    modelSeconds: 0,
  };
}

function startEpoch(v: Variant, epoch: number): void {
  v.iters = v.shares.map((s) => v.setup.source.batches(epoch, 0, s)[Symbol.asyncIterator]());
}

function reversedRows(batch: Float32Array, rows: number, d: number, out: Float32Array): Float32Array {
  for (let r = 0; r < rows; r++) out.set(batch.subarray(r * d, (r + 1) * d), (rows - 1 - r) * d);
  return out;
}

/**
 * Variant v's reduced gradient and loss of global step `step` at `params` (its own, or A's for
 * --grad-check), from the next batch of each rank.
 */
async function reducedGradient(
  v: Variant,
  step: number,
  params: Float32Array,
  scratch: Float32Array,
): Promise<{ grads: Float32Array; loss: number }> {
  const P = params.length;
  const { model, config } = v.setup;
  const t0 = performance.now();
  if (v.threads !== 1) await selectBackend('native', { threads: v.threads });
  for (let r = 0; r < v.shares.length; r++) {
    const share = v.shares[r]!;
    const it = await v.iters[r]!.next();
    if (it.done) throw new Error(`variant ${v.name}: rank ${r}'s batches ended at step ${step}`);
    const pixels = v.reverse
      ? reversedRows(it.value.pixels, share.count, model.inputSize, scratch)
      : it.value.pixels;
    const noise = new SampleNoise(config.seed, step, share.offset, share.count);
    const packed = v.packed[r]!;
    const res = model.step(params, pixels, share.count, noise, packed.subarray(0, P));
    // Extras would ride between the loss and the vote and move the ring's chunk boundaries.
    if (res.extras)
      throw new Error(`variant ${v.name}: the model reports extras, which this bench does not pack`);
    if (res.grads.buffer !== packed.buffer) packed.set(res.grads);
    packed[P] = res.loss;
    packed[P + 1] = 0;
  }
  if (v.threads !== 1) await selectBackend('native', { threads: 1 });
  v.modelSeconds += (performance.now() - t0) / 1000;
  if (v.kind === 'single') return { grads: v.packed[0]!.subarray(0, P), loss: v.packed[0]![P]! };
  if (v.kind === 'ring') {
    await Promise.all(
      v.groups!.map((g, r) =>
        g.allreduce(v.packed[r]!, 'avg', { tag: collectiveTag(step, 'grads'), timeoutMs: TIMEOUT_MS }),
      ),
    );
    if (step === 0) {
      for (let r = 1; r < RANKS; r++)
        if (paramDigest(v.packed[r]!) !== paramDigest(v.packed[0]!)) throw new Error('ring ranks differ');
    }
    return { grads: v.packed[0]!.subarray(0, P), loss: v.packed[0]![P]! };
  }
  const [a, b, c, d] = v.packed as [Float32Array, Float32Array, Float32Array, Float32Array];
  for (let i = 0; i < P; i++) v.avg[i] = (a[i]! + b[i]! + c[i]! + d[i]!) / 4;
  return { grads: v.avg, loss: (a[P]! + b[P]! + c[P]! + d[P]!) / 4 };
}

/** One training step of variant v at its own parameters; returns the gradient it committed. */
async function trainStep(v: Variant, step: number, scratch: Float32Array): Promise<Float32Array> {
  const { grads, loss } = await reducedGradient(v, step, v.state.params, scratch);
  v.state.commit(grads, null);
  v.losses.push(loss);
  return grads;
}

function compare(a: Float32Array, b: Float32Array): Distance {
  let max = 0;
  let differ = 0;
  let d2 = 0;
  let n2 = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const e = b[i]! - x;
    if (e !== 0) {
      differ++;
      const ae = Math.abs(e);
      if (ae > max) max = ae;
      d2 += e * e;
    }
    n2 += x * x;
  }
  return { max, differ, rel: Math.sqrt(d2 / n2) };
}

/** How far gradient `other` is from `ref`; `beyond` counts entries off by more than 1e-3 relative + 1e-9. */
function gradientStats(ref: Float32Array | Float64Array, other: Float32Array): Record<string, number> {
  let d2 = 0;
  let r2 = 0;
  let differ = 0;
  let signFlip = 0;
  let maxRel = 0;
  let mean = 0;
  let beyond = 0;
  for (let i = 0; i < ref.length; i++) {
    const e = other[i]! - ref[i]!;
    d2 += e * e;
    r2 += ref[i]! * ref[i]!;
    mean += e;
    if (e !== 0) differ++;
    if (Math.sign(other[i]!) !== Math.sign(ref[i]!)) signFlip++;
    if (ref[i] !== 0) maxRel = Math.max(maxRel, Math.abs(e / ref[i]!));
    if (Math.abs(e) > 1e-3 * Math.abs(ref[i]!) + 1e-9) beyond++;
  }
  return {
    rel_rms: Math.sqrt(d2 / r2),
    differ,
    sign_flips: signFlip,
    max_rel: maxRel,
    mean_diff: mean / ref.length,
    beyond,
  };
}

const NULL_HOST: TrainingHost = {
  saveCheckpoint: async () => {},
  appendMetrics: async () => {},
  savePicture: async () => {},
  stepDone: () => {},
};

/** runTrainingLoop for A and B over a 30-step epoch, against this file's A and B. */
async function verify(seed: number): Promise<void> {
  const steps = 30;
  const small = { limit: '3000', epochs: '1', pictures: 'false' };
  const loopParams = async (workers: number): Promise<Float32Array> => {
    // One setup per rank, as separate worker processes have.
    const setups = await Promise.all(
      Array.from({ length: workers }, () => setUpRun(jobConfig(seed, workers, small))),
    );
    const groups = workers > 1 ? createMemoryProcessGroups(workers) : null;
    const params = await Promise.all(
      setups.map(async (setup, rank) => {
        if (setup.totalSteps !== steps) throw new Error(`verify: ${setup.totalSteps} steps, not ${steps}`);
        const state = new TrainingState(setup, {
          params: initParams(setup, seed),
          cursor: { epoch: 0, step: 0, imagesSeen: 0 },
        });
        await runTrainingLoop(setup, state, {
          host: NULL_HOST,
          group: groups?.[rank] ?? null,
          share: setup.source.shareOf(rank, workers),
          progress: null,
          digestEvery: 0,
          collectiveTimeoutMs: TIMEOUT_MS,
        });
        return state.params;
      }),
    );
    for (const g of groups ?? []) await g.close();
    return params[0]!;
  };
  const loopA = await loopParams(1);
  const loopB = await loopParams(RANKS);
  const setup = await setUpRun(jobConfig(seed, RANKS, small));
  const a = makeVariant('A', seed, setup);
  const b = makeVariant('B', seed, setup);
  const scratch = new Float32Array(setup.config.batchSize * setup.model.inputSize);
  for (const v of [a, b]) {
    startEpoch(v, 0);
    for (let step = 0; step < steps; step++) await trainStep(v, step, scratch);
    for (const g of v.groups ?? []) await g.close();
  }
  const da = compare(loopA, a.state.params);
  const db = compare(loopB, b.state.params);
  console.error(
    `verify seed ${seed}, ${steps} steps: A vs runTrainingLoop differ=${da.differ}; B vs runTrainingLoop differ=${db.differ}`,
  );
  if (da.differ || db.differ) throw new Error('the lockstep loop does not reproduce runTrainingLoop');
}

/** The gradient at A's parameters as A, B and C take it, at step 0 and after 50 steps of A. */
async function gradCheck(seed: number): Promise<void> {
  const setup = await setUpRun(jobConfig(seed, RANKS));
  const [a, b, c] = ['A', 'B', 'C'].map((name) => makeVariant(name, seed, setup)) as [
    Variant,
    Variant,
    Variant,
  ];
  const scratch = new Float32Array(setup.config.batchSize * setup.model.inputSize);
  const P = a.state.params.length;
  for (const v of [a, b, c]) startEpoch(v, 0);
  for (let step = 0; step <= 50; step++) {
    const ring = await reducedGradient(b, step, a.state.params, scratch);
    const rounded = await reducedGradient(c, step, a.state.params, scratch);
    const whole = await reducedGradient(a, step, a.state.params, scratch);
    if (step === 0 || step === 50) {
      const exact = new Float64Array(P);
      const [p0, p1, p2, p3] = c.packed as [Float32Array, Float32Array, Float32Array, Float32Array];
      for (let i = 0; i < P; i++) exact[i] = (p0[i]! + p1[i]! + p2[i]! + p3[i]!) / 4;
      const line = (label: string, g: Float32Array): void => {
        const s = gradientStats(exact, g);
        console.log(
          `${backendName} seed ${seed} step ${step}: ${label} vs the float64 average of 4 x 25: ` +
            `rel_rms ${s['rel_rms']!.toExponential(2)} mean ${s['mean_diff']!.toExponential(2)} ` +
            `beyond(1e-3 rel + 1e-9) ${s['beyond']}`,
        );
      };
      line('A (1 x 100)', whole.grads);
      line('C (float64, rounded)', rounded.grads);
      line('B (float32 ring)', ring.grads);
    }
    a.state.commit(whole.grads, null);
  }
  for (const g of b.groups ?? []) await g.close();
}

/** The experiment for one seed: every variant in lockstep, one line of `outPath`. */
async function drift(seed: number): Promise<void> {
  const t0 = performance.now();
  // Every rank of a job builds the same setup, whatever its rank or world size: one serves all variants.
  const setup = await setUpRun(jobConfig(seed, RANKS));
  const variants = variantNames.map((name) => makeVariant(name, seed, setup));
  const ref = variants.find((v) => v.name === 'A')!;
  const totalSteps = maxSteps > 0 ? Math.min(maxSteps, setup.totalSteps) : setup.totalSteps;
  const { stepsPerEpoch } = setup.source;
  const scratch = new Float32Array(setup.config.batchSize * setup.model.inputSize);
  let gradReport: Record<string, Record<string, number>> = {};
  for (let step = 0; step < totalSteps; step++) {
    if (step % stepsPerEpoch === 0) for (const v of variants) startEpoch(v, step / stepsPerEpoch);
    const applied: Float32Array[] = [];
    for (const v of variants) applied.push(await trainStep(v, step, scratch));
    if (step === 0) {
      // All variants but D took their first gradient at the same parameters.
      const base = variants.find((v) => v.name === 'C') ?? ref;
      const grads = (v: Variant): Float32Array => applied[variants.indexOf(v)]!;
      gradReport = Object.fromEntries(
        variants
          .filter((v) => v !== base && v.name !== 'D')
          .map((v) => [`${v.name}-vs-${base.name}`, gradientStats(grads(base), grads(v))]),
      );
      console.error(`  step-0 gradients: ${JSON.stringify(gradReport)}`);
    }
    const n = step + 1;
    for (const v of variants) {
      if (v === ref) continue;
      const needExceed = THRESHOLDS.some((t) => v.firstExceed[String(t)] === null);
      if (!needExceed && !SNAP_STEPS.has(n)) continue;
      const c = compare(ref.state.params, v.state.params);
      for (const t of THRESHOLDS)
        if (v.firstExceed[String(t)] === null && c.max > t) v.firstExceed[String(t)] = n;
      if (SNAP_STEPS.has(n)) v.snaps[n] = c;
    }
    if (n % 100 === 0 || n === totalSteps) {
      const sec = (performance.now() - t0) / 1000;
      console.error(
        `seed ${seed} step ${n}/${totalSteps} ${sec.toFixed(0)} s: ` +
          variants.map((v) => `${v.name} ${v.losses[v.losses.length - 1]!.toFixed(3)}`).join(', '),
      );
    }
  }
  // B against C as well: the ring's rounding against the float64 average.
  const b = variants.find((v) => v.name === 'B');
  const c = variants.find((v) => v.name === 'C');
  const bc = b && c ? compare(c.state.params, b.state.params) : null;
  const testSet = setup.testSet!;
  const result: Record<string, unknown> = {
    seed,
    steps: totalSteps,
    epochs: Number(epochs),
    grad_step0: gradReport,
    b_vs_c_final: bc,
  };
  for (const v of variants) {
    const err = reconstructionError(setup.model, v.state.params, testSet, 500);
    const tail = v.losses.slice(-100);
    result[v.name] = {
      sse_per_image: err.sse_per_image,
      final_loss_mean100: tail.reduce((s, x) => s + x, 0) / tail.length,
      loss_first: v.losses.slice(0, lossSteps),
      loss_every10: v.losses.filter((_, i) => i % 10 === 9),
      first_exceed: v === ref ? null : v.firstExceed,
      snaps: v === ref ? null : v.snaps,
      model_seconds: v.modelSeconds,
      digest: paramDigest(v.state.params),
    };
    console.error(
      `seed ${seed} ${v.name}: SSE/image ${err.sse_per_image.toFixed(4)} first>1e-6,1e-4,1e-2: ${JSON.stringify(v.firstExceed)}`,
    );
  }
  appendFileSync(outPath, JSON.stringify(result) + '\n');
  for (const v of variants) for (const g of v.groups ?? []) await g.close();
  console.error(`seed ${seed} done in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
}

await selectBackend(backendName as JobConfig['backend'], { threads: 1 });
if (flag('grad-check')) {
  await gradCheck(seeds[0]!);
} else {
  for (const name of variantNames) {
    if (!/^[A-G]$/.test(name)) throw new Error(`--variants: unknown variant "${name}" (A to G)`);
  }
  if (!variantNames.includes('A'))
    throw new Error('--variants: A is the reference every variant is compared to');
  if (variantNames.includes('E') && backendName !== 'native') {
    // E switches to the native backend for its steps, which would leave every later step there too.
    throw new Error(
      `--variants: E runs the native backend at 2 threads; leave it out with --backend ${backendName}`,
    );
  }
  mkdirSync(dirname(outPath), { recursive: true });
  if (flag('verify')) await verify(seeds[0]!);
  for (const seed of seeds) await drift(seed);
}
