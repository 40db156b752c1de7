/**
 * Does decoding keep the training step fed, and does streaming a shard corpus keep a worker's
 * memory flat as the corpus grows? In one run:
 *
 *   node --import tsx bench/data.ts [--png-images 10000] [--jpeg-images 200] [--passes 5]
 *                                   [--shard-images 2500] [--shards 4] [--memory-runs 3]
 *
 * 1. Decode throughput on one thread, images/s: 28x28 grey PNG (Fashion-MNIST training images
 *    encoded by encodePng, as packShards stores them) and 200x200 RGB JPEG (synthetic photographs,
 *    see makePhoto, encoded by jpeg-js at quality 90). Ours is decodeImage (pngjs, jpeg-js) in this
 *    process, to RGBA; the reference is Pillow decoding the same bytes to L or RGB
 *    (bench/pil-decode.py under /usr/bin/python3: Debian's python3-pil, which is zlib and
 *    libjpeg-turbo). Each figure is the median of `--passes` timed passes over all the images after
 *    a warm-up pass. sharp is not a dependency, so it has no column.
 * 2. The training step's images/s to hold them against: `harmonium train --model ae` (the default
 *    256-64 autoencoder, batch 100, the default threads) on Fashion-MNIST at 28x28, and on the JPEGs
 *    above as an images:DIR corpus at 200x200x3: the median of metrics.jsonl's per-interval
 *    images_per_second after the first interval, with its corpus in memory (decoded before
 *    training). A streamed corpus's shards are decoded on a decode thread of the training process
 *    (core/data/thread-shard-reader.ts); decoded between steps instead, they would add step /
 *    decode of the step's time: the same 28x28 run streaming the small shard corpus of part 3
 *    (`--data shards:DIR`) is held against that prediction.
 * 3. Resident memory streaming a shard corpus over HTTP: `--shards` shards of `--shard-images`
 *    Fashion-MNIST images (repeated past the 60,000) and ten times as many, packed by packShards and
 *    served by startFileServer from this process; a child (bench/stream-shards.ts) opens one by URL,
 *    decodes every shard through ShardCorpus.shards() and reports its peak RSS (VmHWM, see
 *    stream-shards.ts) and how it grew shard by shard. The two corpora alternate, `--memory-runs`
 *    times each; the figure is the median peak. All of it twice: as training runs, collection left
 *    to V8, then with the child's garbage collected after each shard (--expose-gc), which is what
 *    the stream itself keeps.
 *
 * Each part starts once no test run is active and the machine is nearly idle (waitForQuiet). Child
 * processes are killed when they overrun their deadline or this script is interrupted; the
 * temporary directory goes in every case.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, constants, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import jpeg from 'jpeg-js';

import { pixelsPerImage, type ImageSet, type ImageShape } from '../core/data/corpus.js';
import { loadFashionMnist } from '../core/data/fashion-mnist.js';
import { decodeImage } from '../core/data/image-decode.js';
import { Rng } from '../core/data/rng.js';
import { encodePng, packShards } from '../core/data/shard-writer.js';
import { startFileServer, type FileServer } from '../core/data/testing.js';
import { median, positiveInt, reason, waitForQuiet } from './machine.js';
import type { StreamReport } from './stream-shards.js';

const here = dirname(fileURLToPath(import.meta.url));
const repo = join(here, '..');
const CLI = join(repo, 'cli', 'harmonium.mjs');
const PYTHON = '/usr/bin/python3';
const JPEG_SIDE = 200;
const JPEG_QUALITY = 90;
/** Within this much of the smaller corpus's peak RSS, memory counts as flat (the 10 %). */
const FLAT_RSS = 0.1;
/** The corpus grows this many times between the two memory measurements. */
const GROWTH = 10;
/** Deadlines of the child processes: generous, for a loaded 2-core machine. */
const PILLOW_MS = 300_000;
const STEP_MS = 600_000;
const STREAM_MS = 300_000;
/** The 28x28 training run: 60 steps of 100 images, a record every 10. */
const STEP_28 = ['--epochs', '1', '--limit', '6000', '--log-every', '10'];

interface Options {
  readonly pngImages: number;
  readonly jpegImages: number;
  readonly passes: number;
  readonly shardImages: number;
  readonly shards: number;
  readonly memoryRuns: number;
}

/** One set of encoded images, as the decoders see it. */
interface Encoded {
  readonly label: string;
  /** Pillow's mode for it: what our decoder's RGBA is reduced to in training. */
  readonly mode: 'L' | 'RGB';
  readonly shape: ImageShape;
  readonly files: readonly Buffer[];
}

/** A measurement, or why it could not be taken (shown in its table cell). */
type Measured = { readonly value: number } | { readonly unavailable: string };

/** Pillow's figure with the build that gave it. */
type PillowMeasured = { readonly value: number; readonly version: string } | { readonly unavailable: string };

/** The value after `--name`, or `fallback` when the flag is absent or followed by another flag. */
function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  const value = i >= 0 ? process.argv[i + 1] : undefined;
  return value !== undefined && !value.startsWith('--') ? value : fallback;
}

/** `--name` as an integer >= 1 (default `fallback`). */
function intFlag(name: string, fallback: number): number {
  return positiveInt(name, arg(name, String(fallback)));
}

function parseOptions(): Options {
  return {
    pngImages: intFlag('png-images', 10_000),
    jpegImages: intFlag('jpeg-images', 200),
    passes: intFlag('passes', 5),
    shardImages: intFlag('shard-images', 2_500),
    shards: intFlag('shards', 4),
    memoryRuns: intFlag('memory-runs', 3),
  };
}

const fixed = (x: number, digits: number): string =>
  x.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
const cell = (m: Measured, digits = 0): string => ('value' in m ? fixed(m.value, digits) : 'n/a');
const ratio = (a: Measured, b: Measured): Measured =>
  'value' in a && 'value' in b ? { value: a.value / b.value } : { unavailable: 'no figure' };
const mib = (bytes: number): string => fixed(bytes / 2 ** 20, 1);

/** Child processes still running, so that an interrupted run can kill them. */
const live = new Set<ChildProcess>();

/**
 * Runs `command args` from the repository root and resolves its stdout once it exits with 0; an
 * error with the tail of its output if it fails, or if it is still running after `timeoutMs`
 * (it is then killed).
 */
async function runChild(command: string, args: readonly string[], timeoutMs: number): Promise<string> {
  const what = [command, ...args].join(' ');
  const child = spawn(command, args, { cwd: repo, stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  let overran = false;
  const deadline = setTimeout(() => {
    overran = true;
    child.kill('SIGKILL');
  }, timeoutMs);
  try {
    const [code, signal] = (await once(child, 'close')) as [number | null, NodeJS.Signals | null];
    if (overran) throw new Error(`${what}: killed after ${timeoutMs / 1000} s\n${stderr.slice(-2000)}`);
    if (code !== 0) throw new Error(`${what}: exited with ${code ?? signal}\n${stderr.slice(-2000)}`);
    return stdout;
  } finally {
    clearTimeout(deadline);
    live.delete(child);
  }
}

/** The last line of a child's stdout, parsed as JSON. */
function lastJson<T>(stdout: string): T {
  return JSON.parse(stdout.trim().split('\n').pop()!) as T;
}

/** The first `count` images of `set`, repeated from its start when it has fewer. */
function cycled(set: ImageSet, count: number): ImageSet {
  const d = pixelsPerImage(set.shape);
  const pixels = new Uint8Array(count * d);
  const labels = set.labels === null ? null : new Uint8Array(count);
  for (let at = 0; at < count; at += set.count) {
    const n = Math.min(set.count, count - at);
    pixels.set(set.pixels.subarray(0, n * d), at * d);
    labels?.set(set.labels!.subarray(0, n), at);
  }
  return { name: `${set.name} x${count}`, shape: set.shape, count, pixels, labels };
}

/** Adds value noise to `out` (side x side): octaves of 2^k cells, bilinear, amplitude 2^-k*beta. */
function addNoise(rng: Rng, side: number, octaves: number, beta: number, out: Float32Array): void {
  for (let k = 1; k <= octaves; k++) {
    const cells = 1 << k;
    const stride = cells + 1;
    const grid = new Float32Array(stride * stride).map(() => rng.uniform() - 0.5);
    const amplitude = cells ** -beta;
    for (let y = 0; y < side; y++) {
      const fy = (y / side) * cells;
      const y0 = Math.floor(fy);
      const ty = fy - y0;
      for (let x = 0; x < side; x++) {
        const fx = (x / side) * cells;
        const i = y0 * stride + Math.floor(fx);
        const tx = fx - Math.floor(fx);
        const top = grid[i]! + (grid[i + 1]! - grid[i]!) * tx;
        const bottom = grid[i + stride]! + (grid[i + stride + 1]! - grid[i + stride]!) * tx;
        out[y * side + x]! += amplitude * (top + (bottom - top) * ty);
      }
    }
  }
}

/**
 * A side x side RGBA picture with a photograph's structure, since none ships with this machine:
 * luminance texture with a power spectrum near 1/f^1.4 (seven octaves of value noise), smooth
 * chroma, 4 to 9 hard-edged discs of their own tone and colour, and sensor noise (sd 3 levels).
 * At quality 90 it encodes to about 2.8 bits a pixel, like a photograph of that size.
 */
function makePhoto(rng: Rng, side: number): Uint8Array {
  const n = side * side;
  const luma = new Float32Array(n);
  const cb = new Float32Array(n);
  const cr = new Float32Array(n);
  addNoise(rng, side, 7, 0.7, luma);
  addNoise(rng, side, 3, 1, cb);
  addNoise(rng, side, 3, 1, cr);
  const discs = 4 + rng.int(6);
  for (let k = 0; k < discs; k++) {
    const cx = rng.uniform() * side;
    const cy = rng.uniform() * side;
    const r = 10 + rng.uniform() * 50;
    const dl = rng.uniform() - 0.5;
    const db = (rng.uniform() - 0.5) * 0.4;
    const dr = (rng.uniform() - 0.5) * 0.4;
    for (let y = Math.max(0, Math.floor(cy - r)); y < Math.min(side, cy + r); y++) {
      for (let x = Math.max(0, Math.floor(cx - r)); x < Math.min(side, cx + r); x++) {
        if ((x - cx) ** 2 + (y - cy) ** 2 >= r * r) continue;
        const i = y * side + x;
        luma[i] = luma[i]! * 0.5 + dl;
        cb[i]! += db;
        cr[i]! += dr;
      }
    }
  }
  const rgba = new Uint8Array(n * 4);
  for (let i = 0; i < n; i++) {
    const y = 128 + 255 * luma[i]! + 3 * rng.normal();
    const b = 127 * cb[i]!;
    const r = 127 * cr[i]!;
    // BT.601 YCbCr to RGB, clamped: a Uint8Array would wrap what is out of range.
    rgba[i * 4] = Math.max(0, Math.min(255, y + 1.402 * r));
    rgba[i * 4 + 1] = Math.max(0, Math.min(255, y - 0.344 * b - 0.714 * r));
    rgba[i * 4 + 2] = Math.max(0, Math.min(255, y + 1.772 * b));
    rgba[i * 4 + 3] = 255;
  }
  return rgba;
}

/** The 28x28 test images: the first `count` Fashion-MNIST training images as grey PNGs. */
function makePngs(fashion: ImageSet, count: number): Encoded {
  const set = cycled(fashion, count);
  const d = pixelsPerImage(set.shape);
  const files = Array.from({ length: count }, (_, i) =>
    encodePng(set.pixels.subarray(i * d, (i + 1) * d), set.shape),
  );
  return { label: '28x28 grey PNG', mode: 'L', shape: set.shape, files };
}

/** The 200x200 test images: `count` synthetic photographs as RGB JPEGs. */
function makeJpegs(count: number): Encoded {
  const rng = new Rng(2026);
  const files = Array.from({ length: count }, () => {
    const data = Buffer.from(makePhoto(rng, JPEG_SIDE).buffer);
    return jpeg.encode({ data, width: JPEG_SIDE, height: JPEG_SIDE }, JPEG_QUALITY).data;
  });
  return {
    label: `${JPEG_SIDE}x${JPEG_SIDE} RGB JPEG q${JPEG_QUALITY}`,
    mode: 'RGB',
    shape: { height: JPEG_SIDE, width: JPEG_SIDE, channels: 3 },
    files,
  };
}

/** Writes the images as numbered files (named by format) into a new directory `dir`. */
function writeFiles(set: Encoded, dir: string): string {
  mkdirSync(dir);
  const ext = set.mode === 'L' ? 'png' : 'jpg';
  set.files.forEach((f, i) => writeFileSync(join(dir, `${String(i).padStart(6, '0')}.${ext}`), f));
  return dir;
}

/** Our median images/s over `passes` passes of decodeImage after a warm-up pass. */
function timeOurs(set: Encoded, passes: number): number {
  const pass = (): void => {
    for (const f of set.files) decodeImage(f, set.label);
  };
  pass();
  const rates: number[] = [];
  for (let p = 0; p < passes; p++) {
    const started = performance.now();
    pass();
    rates.push(set.files.length / ((performance.now() - started) / 1000));
  }
  return median(rates);
}

/** What bench/pil-decode.py prints. */
interface PillowReport {
  readonly images_per_second: number;
  readonly images: number;
  readonly pillow: string;
  readonly libjpeg_turbo: boolean | null;
}

/** Pillow's median images/s over the same files, and its version; unavailable without python3-pil. */
async function timePillow(dir: string, mode: Encoded['mode'], passes: number): Promise<PillowMeasured> {
  try {
    const args = [join(here, 'pil-decode.py'), '--dir', dir, '--mode', mode, '--passes', String(passes)];
    const r = lastJson<PillowReport>(await runChild(PYTHON, args, PILLOW_MS));
    const turbo = r.libjpeg_turbo ? ', libjpeg-turbo' : '';
    return { value: r.images_per_second, version: `Pillow ${r.pillow}${turbo}` };
  } catch (err) {
    return { unavailable: reason(err) };
  }
}

/** A training run's pace, from metrics.jsonl. */
interface StepRate {
  readonly imagesPerS: number;
  /** Per step, the time the loop waited for its batch. */
  readonly dataWaitMs: number;
}

/**
 * The training step's pace: `harmonium train --model ae` with `args`, the medians of
 * metrics.jsonl's images_per_second and data_wait_seconds after the first record (compilation,
 * first allocations).
 */
async function stepRate(args: readonly string[], out: string): Promise<StepRate> {
  await runChild(
    process.execPath,
    [CLI, 'train', '--model', 'ae', '--no-eval', '--no-pictures', '--out', out, ...args],
    STEP_MS,
  );
  const records = readFileSync(join(out, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { images_per_second: number; data_wait_seconds: number })
    .slice(1);
  if (records.length === 0) throw new Error(`${out}/metrics.jsonl: fewer than 2 records`);
  return {
    imagesPerS: median(records.map((r) => r.images_per_second)),
    dataWaitMs: 1000 * median(records.map((r) => r.data_wait_seconds)),
  };
}

/** Streams the corpus at `url` in a child process, which reports its own memory. */
async function streamInChild(url: string, gcPerShard: boolean): Promise<StreamReport> {
  const args = [
    ...(gcPerShard ? ['--expose-gc'] : []),
    ...process.execArgv,
    join(here, 'stream-shards.ts'),
    url,
  ];
  return lastJson<StreamReport>(await runChild(process.execPath, args, STREAM_MS));
}

interface DecodeRow {
  readonly set: Encoded;
  /** Where the images were written for Pillow (and for the step's images:DIR corpus). */
  readonly dir: string;
  readonly ours: number;
  readonly pillow: PillowMeasured;
}

/** Part 1: ours and Pillow on both image sets. */
async function measureDecode(sets: readonly Encoded[], tmp: string, passes: number): Promise<DecodeRow[]> {
  console.log(`decode on one thread, images/s (median of ${passes} passes after a warm-up)`);
  console.log(
    'images                     count  bytes/image  bits/pixel  ours (pngjs/jpeg-js)    Pillow  ours/Pillow  Pillow build',
  );
  const rows: DecodeRow[] = [];
  for (const set of sets) {
    const ours = timeOurs(set, passes);
    const dir = writeFiles(set, join(tmp, `decode-${set.mode}`));
    const pillow = await timePillow(dir, set.mode, passes);
    rows.push({ set, dir, ours, pillow });
    const bytes = set.files.reduce((s, f) => s + f.length, 0) / set.files.length;
    console.log(
      [
        set.label.padEnd(24),
        String(set.files.length).padStart(7),
        fixed(bytes, 0).padStart(12),
        fixed((bytes * 8) / (set.shape.height * set.shape.width), 2).padStart(11),
        fixed(ours, 0).padStart(21),
        cell(pillow).padStart(9),
        cell(ratio({ value: ours }, pillow), 2).padStart(12),
        ` ${'value' in pillow ? pillow.version : pillow.unavailable}`,
      ].join(' '),
    );
  }
  return rows;
}

/** The flags of the training step an image set is held against. */
function stepArgs(row: DecodeRow): string[] {
  // The grey PNGs are Fashion-MNIST images: the step on Fashion-MNIST itself, from memory.
  if (row.set.mode === 'L') return STEP_28;
  const { height, width, channels } = row.set.shape;
  return [
    ...['--data', `images:${row.dir}`, '--image-height', String(height), '--image-width', String(width)],
    ...['--image-channels', String(channels), '--epochs', '3', '--log-every', '1'],
  ];
}

/**
 * Part 2: the step at each set's size, against the set's decode rates; then the 28x28 step
 * streaming the shard corpus in `shardsDir`, which decodes its PNGs between steps, against the
 * rate predicted from the in-memory step and our PNG decode rate.
 */
async function measureStep(rows: readonly DecodeRow[], shardsDir: string, tmp: string): Promise<void> {
  const run = async (args: readonly string[], name: string): Promise<StepRate | { unavailable: string }> => {
    try {
      return await stepRate(args, join(tmp, name));
    } catch (err) {
      return { unavailable: reason(err) };
    }
  };
  const steps: (StepRate | { unavailable: string })[] = [];
  for (const [i, row] of rows.entries()) steps.push(await run(stepArgs(row), `step-${i}`));
  const streamed = await run(['--data', `shards:${shardsDir}`, ...STEP_28], 'step-shards');
  console.log(
    `\nagainst the training step (harmonium train --model ae: 256-64, batch 100, ` +
      `${availableParallelism()} threads), its corpus in memory; fed when decode/step >= 1`,
  );
  console.log(
    'input        step images/s  data wait ms  ours/step  Pillow/step  fed by ours  decoding inline adds to a step',
  );
  rows.forEach((row, i) => {
    const rate = steps[i]!;
    const step: Measured = 'unavailable' in rate ? rate : { value: rate.imagesPerS };
    const oursPerStep = ratio({ value: row.ours }, step);
    console.log(
      [
        `${row.set.shape.height}x${row.set.shape.width}x${row.set.shape.channels}`.padEnd(12),
        cell(step, 1).padStart(13),
        ('unavailable' in rate ? 'n/a' : fixed(rate.dataWaitMs, 2)).padStart(13),
        cell(oursPerStep, 1).padStart(10),
        cell(ratio(row.pillow, step), 1).padStart(12),
        ('value' in oursPerStep ? (oursPerStep.value >= 1 ? 'yes' : 'no') : 'n/a').padStart(12),
        `${'value' in oursPerStep ? fixed(100 / oursPerStep.value, 1) : 'n/a'} %`.padStart(31),
        'unavailable' in rate ? ` (${rate.unavailable})` : '',
      ].join(' '),
    );
  });
  const inMemory = steps[0]!;
  if ('unavailable' in streamed || 'unavailable' in inMemory) {
    const why = 'unavailable' in streamed ? streamed.unavailable : 'no in-memory step';
    console.log(`28x28 step streaming shards:DIR: n/a (${why})`);
    return;
  }
  const predicted = 1 / (1 / inMemory.imagesPerS + 1 / rows[0]!.ours);
  console.log(
    `28x28 step streaming shards:DIR (decoding on its decode thread): ` +
      `${fixed(streamed.imagesPerS, 1)} images/s, data wait ${fixed(streamed.dataWaitMs, 2)} ms a step; ` +
      `${fixed(streamed.imagesPerS / inMemory.imagesPerS, 2)} of the in-memory step ` +
      `(decoding between the steps would give ${fixed(predicted, 1)} images/s)`,
  );
}

/** Packs the small corpus and the one `GROWTH` times larger; returns their directories. */
async function packCorpora(fashion: ImageSet, opts: Options, tmp: string): Promise<string[]> {
  const dirs: string[] = [];
  for (const shards of [opts.shards, opts.shards * GROWTH]) {
    const dir = join(tmp, `shards-${shards}`);
    await packShards(cycled(fashion, shards * opts.shardImages), dir, opts.shardImages);
    dirs.push(dir);
  }
  return dirs;
}

/** Prints one mode's memory table: `reports[0]` the small corpus's runs, `reports[1]` the grown one's. */
function printMemory(title: string, reports: readonly (readonly StreamReport[])[], opts: Options): void {
  console.log(`\n${title}`);
  console.log(
    'corpus  shards   images  MiB streamed  RSS after open MiB  peak RSS MiB (runs)        median  stream images/s',
  );
  const peaks = reports.map((rs) => median(rs.map((r) => r.peakRssKiB)));
  reports.forEach((rs, i) => {
    const r = rs[0]!;
    console.log(
      [
        (i === 0 ? '1x' : `${GROWTH}x`).padEnd(6),
        String(r.shards).padStart(7),
        fixed(r.images, 0).padStart(8),
        mib(r.bytes).padStart(13),
        fixed(median(rs.map((x) => x.openRssKiB)) / 1024, 1).padStart(19),
        rs
          .map((x) => fixed(x.peakRssKiB / 1024, 1))
          .join(', ')
          .padStart(20),
        fixed(peaks[i]! / 1024, 1).padStart(13),
        fixed(median(rs.map((x) => x.images / x.seconds)), 0).padStart(16),
      ].join(' '),
    );
  });
  // Where the grown corpus's peak stood along its stream, at multiples of the small corpus.
  const along = [1, 2, 3, 5, GROWTH].map((m) => m * opts.shards);
  const peakAfter = (k: number): number => median(reports[1]!.map((r) => r.peakAfterShardKiB[k - 1]!));
  console.log(
    `peak RSS MiB of the ${GROWTH}x corpus's stream after n shards (median of runs): ` +
      along.map((k) => `${k}: ${fixed(peakAfter(k) / 1024, 1)}`).join(', '),
  );
  const grown = peaks[1]! / peaks[0]!;
  const half = along[3]!;
  console.log(
    `peak RSS ${GROWTH}x / 1x: ${fixed(grown, 3)} (flat within ${FLAT_RSS * 100} %: ` +
      `${Math.abs(grown - 1) <= FLAT_RSS ? 'met' : 'missed'}); ` +
      `after ${along[4]} shards / after ${half}: ${fixed(peakAfter(along[4]!) / peakAfter(half), 3)}`,
  );
}

/**
 * Part 3: peak RSS of a child streaming the small and the grown corpus, alternately: first as
 * training runs, collection left to V8; then with garbage collected after each shard, so that the
 * peak is what the stream keeps.
 */
async function measureMemory(dirs: readonly string[], opts: Options): Promise<void> {
  const servers: FileServer[] = [];
  try {
    for (const dir of dirs) servers.push(await startFileServer(dir));
    for (const gcPerShard of [false, true]) {
      const reports: StreamReport[][] = dirs.map(() => []);
      for (let run = 0; run < opts.memoryRuns; run++) {
        for (const [i, server] of servers.entries()) {
          reports[i]!.push(await streamInChild(server.url, gcPerShard));
        }
      }
      printMemory(
        `resident memory of a child streaming a shard corpus over HTTP, decoded shard by shard ` +
          `(${opts.shardImages} 28x28 images a shard; ${opts.memoryRuns} runs each, alternating), ` +
          (gcPerShard
            ? 'garbage collected after each shard (--expose-gc)'
            : 'as training runs (no forced GC)'),
        reports,
        opts,
      );
    }
  } finally {
    await Promise.all(servers.map((s) => s.close()));
  }
}

async function main(): Promise<void> {
  const opts = parseOptions();
  const tmp = mkdtempSync(join(tmpdir(), 'harmonium-bench-data-'));
  const interrupted = (signal: NodeJS.Signals): void => {
    for (const child of live) child.kill('SIGKILL');
    rmSync(tmp, { recursive: true, force: true });
    process.exit(128 + constants.signals[signal]);
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  try {
    console.log(
      `${availableParallelism()} cores, load average ${fixed(loadavg()[0]!, 2)}, node ${process.version}\n`,
    );
    const { train: fashion } = await loadFashionMnist({ download: false });
    const sets = [makePngs(fashion, opts.pngImages), makeJpegs(opts.jpegImages)];
    const corpora = await packCorpora(fashion, opts, tmp);
    await waitForQuiet();
    const rows = await measureDecode(sets, tmp, opts.passes);
    await waitForQuiet();
    await measureStep(rows, corpora[0]!, tmp);
    await waitForQuiet();
    await measureMemory(corpora, opts);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
    process.off('SIGINT', interrupted);
    process.off('SIGTERM', interrupted);
  }
}

await main();
