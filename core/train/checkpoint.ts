/**
 * Checkpoints: one directory holding everything a run needs to resume bit-exactly.
 *
 *   checkpoint.json  format, version, model kind + hyper + paramSpecs, optimizer name + scalar state
 *                    + layout of optimizer.bin, model-state length, rng state, data cursor, seed,
 *                    config snapshot, created time, and bytes + sha256 of every other file
 *   weights.bin      the flat parameters, float32 little-endian, in paramSpecs order
 *   weights.json     TensorFlow.js weights manifest for weights.bin, so plain tfjs reads it:
 *                    `tf.io.decodeWeights(readFileSync('weights.bin'), manifest[0].weights)`
 *   optimizer.bin    the optimizer's Float32Array states, concatenated as checkpoint.json says
 *   state.bin        model state (PCD fantasy particles), only when the model has some
 *
 * Writing is atomic at the directory level. Everything goes into `<dir>.tmp-<pid>-<rand>`, each file
 * and the directory are fsynced, and only then is it renamed into place. A previous checkpoint at
 * `<dir>` is first renamed to `<dir>.old-<pid>-<rand>`, the new one renamed to `<dir>`, and the old
 * one deleted. A crash therefore leaves either the old or the new checkpoint complete: at `<dir>`,
 * or (crash between the two renames) at `<dir>.old-*`, from where the next read or write moves it
 * back. Leftover `.tmp-*` directories are never read and are deleted by the next successful write.
 * One writer per checkpoint path is assumed (the trainer of that run).
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { RngState } from '../data/rng.js';
import { CheckpointError } from '../errors.js';
import { flatLength, type ParamSpec } from '../models/model.js';
import type { OptimizerState } from './optimizer.js';

/** The `format` field of checkpoint.json. */
export const CHECKPOINT_FORMAT = 'harmonium-checkpoint';
/** The layout version this code writes and reads. */
export const CHECKPOINT_VERSION = 1;

const MANIFEST = 'checkpoint.json';
const WEIGHTS_BIN = 'weights.bin';
const WEIGHTS_JSON = 'weights.json';
const OPTIMIZER_BIN = 'optimizer.bin';
const STATE_BIN = 'state.bin';

/** Where the data pipeline stands; a resumed run continues from here. */
export interface DataCursor {
  readonly epoch: number;
  /** Updates taken so far in the whole run. */
  readonly step: number;
  readonly imagesSeen: number;
}

/** What a checkpoint holds. */
export interface CheckpointData {
  readonly modelKind: string;
  readonly hyper: Readonly<Record<string, unknown>>;
  readonly paramSpecs: readonly ParamSpec[];
  /** Flat parameters, flatLength(paramSpecs) values. */
  readonly params: Float32Array;
  readonly optimizer: { readonly name: string; readonly state: Readonly<OptimizerState> };
  readonly rng: RngState;
  readonly cursor: DataCursor;
  readonly seed: number;
  /** The run's config snapshot, opaque here; must be JSON-serialisable. */
  readonly config: Readonly<Record<string, unknown>>;
  /** Model state besides parameters (Model.saveState), or null. */
  readonly modelState: Float32Array | null;
}

/** A checkpoint as read back; the optimizer's arrays are views into one buffer read from optimizer.bin. */
export interface Checkpoint extends CheckpointData {
  /** The directory it was read from. */
  readonly dir: string;
  /** ISO 8601 time it was written. */
  readonly createdAt: string;
}

/** One entry of a TensorFlow.js weights manifest. */
export interface WeightsManifestEntry {
  readonly name: string;
  readonly shape: number[];
  readonly dtype: 'float32';
}

/** One group of a TensorFlow.js weights manifest (tf.io.WeightsManifestGroupConfig). */
export interface WeightsManifestGroup {
  readonly paths: string[];
  readonly weights: WeightsManifestEntry[];
}

/** The weights.json written beside weights.bin: one group, one file, one entry per ParamSpec. */
export function weightsManifest(specs: readonly ParamSpec[]): WeightsManifestGroup[] {
  return [
    {
      paths: [WEIGHTS_BIN],
      weights: specs.map((s) => ({ name: s.name, shape: [...s.shape], dtype: 'float32' })),
    },
  ];
}

/** Options for writeCheckpoint. */
export interface WriteCheckpointOptions {
  /** Clock for `createdAt`; default the system clock. */
  readonly now?: () => Date;
  /**
   * Writes one new file durably (all chunks in order, then fsync). The default is the real thing;
   * tests pass one that fails part-way to check that a failed write leaves the old checkpoint.
   */
  readonly writeFile?: (path: string, chunks: readonly Uint8Array[]) => Promise<void>;
}

interface FileRecord {
  bytes: number;
  sha256: string;
}

interface ArrayRecord {
  key: string;
  /** In float32 values from the start of optimizer.bin. */
  offset: number;
  length: number;
}

/** The parsed, validated checkpoint.json. */
interface Manifest {
  createdAt: string;
  modelKind: string;
  hyper: Record<string, unknown>;
  paramSpecs: ParamSpec[];
  optimizer: { name: string; scalars: Record<string, number>; arrays: ArrayRecord[] };
  modelState: { length: number } | null;
  rng: RngState;
  cursor: DataCursor;
  seed: number;
  config: Record<string, unknown>;
  files: Record<string, FileRecord>;
}

/**
 * Writes `data` as a checkpoint at `dir` atomically (see the file comment). Throws CheckpointError:
 * CHECKPOINT_INVALID when `data` is inconsistent (buffer lengths vs specs), IO when writing fails;
 * in both cases a previous checkpoint at `dir` is left as it was.
 */
export async function writeCheckpoint(
  dir: string,
  data: CheckpointData,
  options: WriteCheckpointOptions = {},
): Promise<void> {
  checkBuffers(data);
  const writeFile = options.writeFile ?? writeFileDurable;
  const createdAt = (options.now ?? (() => new Date()))().toISOString();

  await recoverCheckpoint(dir);
  await mkdir(dirname(dir), { recursive: true });
  const tag = `${process.pid}-${randomBytes(4).toString('hex')}`;
  const tmp = `${dir}.tmp-${tag}`;
  const old = `${dir}.old-${tag}`;

  try {
    await mkdir(tmp);
    const files: Record<string, FileRecord> = {};
    const put = async (name: string, chunks: readonly Uint8Array[]): Promise<void> => {
      const hash = createHash('sha256');
      let bytes = 0;
      for (const c of chunks) {
        hash.update(c);
        bytes += c.byteLength;
      }
      await writeFile(join(tmp, name), chunks);
      files[name] = { bytes, sha256: hash.digest('hex') };
    };

    // Float32Array bytes are written in platform order, which is little-endian wherever Node and
    // tfjs run; tfjs reads weights.bin the same way.
    await put(WEIGHTS_BIN, [floatBytes(data.params)]);
    await put(WEIGHTS_JSON, [Buffer.from(JSON.stringify(weightsManifest(data.paramSpecs)))]);
    const scalars: Record<string, number> = {};
    const arrays: ArrayRecord[] = [];
    const arrayChunks: Uint8Array[] = [];
    let offset = 0;
    for (const [key, value] of Object.entries(data.optimizer.state)) {
      if (typeof value === 'number') {
        scalars[key] = value;
      } else {
        arrays.push({ key, offset, length: value.length });
        arrayChunks.push(floatBytes(value));
        offset += value.length;
      }
    }
    await put(OPTIMIZER_BIN, arrayChunks);
    if (data.modelState) await put(STATE_BIN, [floatBytes(data.modelState)]);

    const manifest = {
      format: CHECKPOINT_FORMAT,
      version: CHECKPOINT_VERSION,
      createdAt,
      modelKind: data.modelKind,
      hyper: data.hyper,
      paramSpecs: data.paramSpecs.map((s) => ({ name: s.name, shape: [...s.shape] })),
      optimizer: { name: data.optimizer.name, scalars, arrays },
      modelState: data.modelState ? { length: data.modelState.length } : null,
      rng: [...data.rng],
      cursor: { epoch: data.cursor.epoch, step: data.cursor.step, imagesSeen: data.cursor.imagesSeen },
      seed: data.seed,
      config: data.config,
      files,
    };
    const text = JSON.stringify(manifest, null, 2) + '\n';
    // The same checks a reader applies, so a checkpoint that could not be read back is never committed.
    parseManifest(dir, text);
    await writeFile(join(tmp, MANIFEST), [Buffer.from(text)]);
    await fsyncDir(tmp);
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    throw asWriteError(dir, err);
  }

  let movedOld = false;
  try {
    try {
      await rename(dir, old);
      movedOld = true;
    } catch (err) {
      if (errnoCode(err) !== 'ENOENT') throw err;
    }
    await rename(tmp, dir);
  } catch (err) {
    // If even this fails, the old checkpoint stays complete at `old`, where recoverCheckpoint finds it.
    if (movedOld) await rename(old, dir).catch(() => undefined);
    await rm(tmp, { recursive: true, force: true });
    throw asWriteError(dir, err);
  }
  await fsyncDir(dirname(dir));
  await removeLeftovers(dir);
}

/**
 * Reads and validates the checkpoint at `dir`. Any problem (missing file, bad JSON, wrong format or
 * version, a field of the wrong type, a byte size that does not match the specs, a sha256 mismatch)
 * is a CheckpointError CHECKPOINT_INVALID naming the file and field.
 */
export async function readCheckpoint(dir: string): Promise<Checkpoint> {
  await recoverCheckpoint(dir);
  let text: string;
  try {
    text = await readFile(join(dir, MANIFEST), 'utf8');
  } catch (err) {
    const code = errnoCode(err);
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      const dirExists = await exists(dir);
      throw invalid(dir, dirExists ? MANIFEST : '', dirExists ? 'missing' : 'no checkpoint here', err);
    }
    throw invalid(dir, MANIFEST, `cannot read: ${String(err)}`, err);
  }
  const m = parseManifest(dir, text);

  const specValues = flatLength(m.paramSpecs);
  const optimizerValues = m.optimizer.arrays.reduce((n, a) => n + a.length, 0);
  // Expected byte size of each file and the checkpoint.json field that implies it.
  const expectedBytes: Record<string, [number, string] | null> = {
    [WEIGHTS_BIN]: [4 * specValues, 'paramSpecs need'],
    [WEIGHTS_JSON]: null,
    [OPTIMIZER_BIN]: [4 * optimizerValues, 'optimizer.arrays need'],
  };
  if (m.modelState) expectedBytes[STATE_BIN] = [4 * m.modelState.length, 'modelState.length needs'];
  for (const name of Object.keys(m.files)) {
    if (!(name in expectedBytes)) throw invalid(dir, MANIFEST, `files["${name}"]: not a checkpoint file`);
  }

  const contents: Record<string, Buffer> = {};
  for (const [name, expected] of Object.entries(expectedBytes)) {
    const rec = m.files[name];
    if (!rec) throw invalid(dir, MANIFEST, `files["${name}"]: missing`);
    let buf: Buffer;
    try {
      buf = await readFile(join(dir, name));
    } catch (err) {
      throw invalid(dir, name, errnoCode(err) === 'ENOENT' ? 'missing' : `cannot read: ${String(err)}`, err);
    }
    if (expected !== null && buf.byteLength !== expected[0]) {
      throw invalid(
        dir,
        name,
        `${buf.byteLength} bytes, but checkpoint.json's ${expected[1]} ${expected[0]}`,
      );
    }
    if (buf.byteLength !== rec.bytes) {
      throw invalid(
        dir,
        name,
        `${buf.byteLength} bytes, but checkpoint.json files["${name}"].bytes is ${rec.bytes}`,
      );
    }
    const sha = createHash('sha256').update(buf).digest('hex');
    if (sha !== rec.sha256) {
      throw invalid(
        dir,
        name,
        `sha256 ${sha} does not match checkpoint.json files["${name}"].sha256 ${rec.sha256}`,
      );
    }
    contents[name] = buf;
  }

  checkWeightsManifest(dir, contents[WEIGHTS_JSON]!, m.paramSpecs);
  const optimizerFloats = toFloat32(contents[OPTIMIZER_BIN]!);
  const state: OptimizerState = { ...m.optimizer.scalars };
  for (const a of m.optimizer.arrays) state[a.key] = optimizerFloats.subarray(a.offset, a.offset + a.length);

  return {
    dir,
    createdAt: m.createdAt,
    modelKind: m.modelKind,
    hyper: m.hyper,
    paramSpecs: m.paramSpecs,
    params: toFloat32(contents[WEIGHTS_BIN]!),
    optimizer: { name: m.optimizer.name, state },
    rng: m.rng,
    cursor: m.cursor,
    seed: m.seed,
    config: m.config,
    modelState: m.modelState ? toFloat32(contents[STATE_BIN]!) : null,
  };
}

/**
 * Throws CheckpointError CHECKPOINT_INVALID unless `ckpt` was written for this model kind, these
 * parameter specs (names and shapes, in order) and, when given, this optimizer.
 */
export function assertCheckpointFits(
  ckpt: CheckpointData & { readonly dir?: string },
  expected: { readonly kind: string; readonly paramSpecs: readonly ParamSpec[]; readonly optimizer?: string },
): void {
  const fail = (what: string): never => {
    throw new CheckpointError('CHECKPOINT_INVALID', `checkpoint ${ckpt.dir ?? '(received)'}: ${what}`);
  };
  if (ckpt.modelKind !== expected.kind) fail(`holds a "${ckpt.modelKind}" model, not "${expected.kind}"`);
  if (ckpt.paramSpecs.length !== expected.paramSpecs.length) {
    fail(`has ${ckpt.paramSpecs.length} parameter tensors, the model has ${expected.paramSpecs.length}`);
  }
  expected.paramSpecs.forEach((s, i) => {
    const c = ckpt.paramSpecs[i]!;
    if (c.name !== s.name || c.shape.join('x') !== s.shape.join('x')) {
      fail(
        `parameter ${i} is ${c.name} [${c.shape.join(', ')}], the model has ${s.name} [${s.shape.join(', ')}]`,
      );
    }
  });
  if (expected.optimizer !== undefined && ckpt.optimizer.name !== expected.optimizer) {
    fail(`holds "${ckpt.optimizer.name}" optimizer state, the run uses "${expected.optimizer}"`);
  }
}

function checkBuffers(data: CheckpointData): void {
  const bad = (what: string): never => {
    throw new CheckpointError('CHECKPOINT_INVALID', `cannot write checkpoint: ${what}`);
  };
  const n = flatLength(data.paramSpecs);
  if (data.params.length !== n) bad(`params has ${data.params.length} values, paramSpecs need ${n}`);
  for (const [key, v] of Object.entries(data.optimizer.state)) {
    if (typeof v === 'number' && !Number.isFinite(v)) bad(`optimizer state "${key}" is ${v}`);
  }
}

/** Moves `<dir>.old-*` back when a crash hit between the two renames and `<dir>` is missing. */
async function recoverCheckpoint(dir: string): Promise<void> {
  if (await exists(dir)) return;
  const olds = await siblings(dir, '.old-');
  if (olds.length === 0) return;
  // Normally one; if several, the most recently written is the newest complete checkpoint.
  const times = await Promise.all(olds.map(async (p) => (await stat(p)).mtimeMs));
  let best = 0;
  for (let i = 1; i < olds.length; i++) if (times[i]! > times[best]!) best = i;
  await rename(olds[best]!, dir);
}

async function removeLeftovers(dir: string): Promise<void> {
  const paths = [...(await siblings(dir, '.tmp-')), ...(await siblings(dir, '.old-'))];
  for (const p of paths) await rm(p, { recursive: true, force: true });
}

async function siblings(dir: string, infix: string): Promise<string[]> {
  const parent = dirname(dir);
  const prefix = basename(dir) + infix;
  let names: string[];
  try {
    names = await readdir(parent);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return [];
    throw err;
  }
  return names
    .filter((n) => n.startsWith(prefix))
    .sort()
    .map((n) => join(parent, n));
}

async function writeFileDurable(path: string, chunks: readonly Uint8Array[]): Promise<void> {
  const fh = await open(path, 'wx');
  try {
    // FileHandle.writeFile writes all of a chunk from the current position, so chunks append in order.
    for (const c of chunks) await fh.writeFile(c);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

async function fsyncDir(path: string): Promise<void> {
  let fh;
  try {
    fh = await open(path, 'r');
    await fh.sync();
  } catch (err) {
    // Some platforms (Windows) cannot open or fsync a directory; the renames are still atomic there.
    const code = errnoCode(err);
    if (code !== 'EISDIR' && code !== 'EPERM' && code !== 'EINVAL' && code !== 'EACCES') throw err;
  } finally {
    await fh?.close();
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return false;
    throw err;
  }
}

function errnoCode(err: unknown): string | undefined {
  return err instanceof Error && 'code' in err && typeof err.code === 'string' ? err.code : undefined;
}

function asWriteError(dir: string, err: unknown): CheckpointError {
  if (err instanceof CheckpointError) return err;
  const msg = err instanceof Error ? err.message : String(err);
  return new CheckpointError('IO', `writing checkpoint ${dir} failed (previous checkpoint kept): ${msg}`, {
    cause: err,
  });
}

function invalid(dir: string, file: string, what: string, cause?: unknown): CheckpointError {
  const where = file === '' ? `checkpoint ${dir}` : `checkpoint ${dir}: ${file}`;
  return new CheckpointError('CHECKPOINT_INVALID', `${where}: ${what}`, cause === undefined ? {} : { cause });
}

function floatBytes(a: Float32Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

/** A fresh, aligned Float32Array with the bytes of `buf` (whose offset may not be 4-aligned). */
function toFloat32(buf: Buffer): Float32Array {
  const out = new Float32Array(buf.byteLength / 4);
  new Uint8Array(out.buffer).set(buf);
  return out;
}

function checkWeightsManifest(dir: string, buf: Buffer, specs: readonly ParamSpec[]): void {
  const bad = (what: string): never => {
    throw invalid(dir, WEIGHTS_JSON, what);
  };
  let parsed: unknown;
  try {
    parsed = JSON.parse(buf.toString('utf8'));
  } catch (err) {
    throw invalid(dir, WEIGHTS_JSON, `not valid JSON: ${String(err)}`, err);
  }
  if (JSON.stringify(parsed) === JSON.stringify(weightsManifest(specs))) return;
  if (!Array.isArray(parsed) || parsed.length !== 1) bad('must be an array of exactly one weights group');
  const group = (parsed as unknown[])[0] as { paths?: unknown; weights?: unknown };
  if (JSON.stringify(group.paths) !== JSON.stringify([WEIGHTS_BIN]))
    bad(`[0].paths must be ["${WEIGHTS_BIN}"]`);
  if (!Array.isArray(group.weights) || group.weights.length !== specs.length) {
    bad(`[0].weights must list the ${specs.length} paramSpecs`);
  }
  const expected = weightsManifest(specs)[0]!.weights;
  (group.weights as unknown[]).forEach((w, i) => {
    if (JSON.stringify(w) !== JSON.stringify(expected[i])) {
      bad(
        `[0].weights[${i}] is ${JSON.stringify(w)}, checkpoint.json's paramSpecs say ${JSON.stringify(expected[i])}`,
      );
    }
  });
  bad('does not match paramSpecs');
}

/** Parses checkpoint.json, checking every field; errors name the field. */
function parseManifest(dir: string, text: string): Manifest {
  const bad = (field: string, what: string): never => {
    throw invalid(dir, MANIFEST, `${field}: ${what}`);
  };
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw invalid(dir, MANIFEST, `not valid JSON: ${String(err)}`, err);
  }
  const obj = (v: unknown, field: string): Record<string, unknown> =>
    typeof v === 'object' && v !== null && !Array.isArray(v)
      ? (v as Record<string, unknown>)
      : bad(field, 'must be an object');
  const str = (v: unknown, field: string): string =>
    typeof v === 'string' ? v : bad(field, 'must be a string');
  const count = (v: unknown, field: string): number =>
    typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? v : bad(field, 'must be an integer >= 0');
  const finite = (v: unknown, field: string): number =>
    typeof v === 'number' && Number.isFinite(v) ? v : bad(field, 'must be a finite number');
  const arr = (v: unknown, field: string): unknown[] =>
    Array.isArray(v) ? v : bad(field, 'must be an array');

  const top = obj(raw, '(top level)');
  if (top['format'] !== CHECKPOINT_FORMAT) {
    bad('format', `is ${JSON.stringify(top['format'])}, expected "${CHECKPOINT_FORMAT}"`);
  }
  if (top['version'] !== CHECKPOINT_VERSION) {
    bad('version', `is ${JSON.stringify(top['version'])}, this build reads version ${CHECKPOINT_VERSION}`);
  }
  const createdAt = str(top['createdAt'], 'createdAt');
  const modelKind = str(top['modelKind'], 'modelKind');
  const hyper = obj(top['hyper'], 'hyper');

  const names = new Set<string>();
  const paramSpecs = arr(top['paramSpecs'], 'paramSpecs').map((v, i) => {
    const f = `paramSpecs[${i}]`;
    const s = obj(v, f);
    const name = str(s['name'], `${f}.name`);
    if (names.has(name)) bad(`${f}.name`, `"${name}" appears twice`);
    names.add(name);
    const shape = arr(s['shape'], `${f}.shape`).map((d, j) => count(d, `${f}.shape[${j}]`));
    return { name, shape };
  });

  const o = obj(top['optimizer'], 'optimizer');
  const optName = str(o['name'], 'optimizer.name');
  const scalarsRaw = obj(o['scalars'], 'optimizer.scalars');
  const scalars: Record<string, number> = {};
  for (const [k, v] of Object.entries(scalarsRaw)) scalars[k] = finite(v, `optimizer.scalars.${k}`);
  const arrayKeys = new Set<string>();
  let next = 0;
  const arrays = arr(o['arrays'], 'optimizer.arrays').map((v, i) => {
    const f = `optimizer.arrays[${i}]`;
    const a = obj(v, f);
    const key = str(a['key'], `${f}.key`);
    if (key in scalars || arrayKeys.has(key)) bad(`${f}.key`, `"${key}" appears twice`);
    arrayKeys.add(key);
    const offset = count(a['offset'], `${f}.offset`);
    if (offset !== next) bad(`${f}.offset`, `is ${offset}, expected ${next} (arrays are packed in order)`);
    const length = count(a['length'], `${f}.length`);
    next = offset + length;
    return { key, offset, length };
  });

  const ms = top['modelState'];
  const modelState =
    ms === null ? null : { length: count(obj(ms, 'modelState')['length'], 'modelState.length') };

  const rngRaw = arr(top['rng'], 'rng');
  if (rngRaw.length !== 4) bad('rng', `must hold 4 uint32 words, has ${rngRaw.length}`);
  const rng = rngRaw.map((w, i) => {
    const v = count(w, `rng[${i}]`);
    return v <= 0xffffffff ? v : bad(`rng[${i}]`, 'must be a uint32');
  }) as unknown as RngState;

  const c = obj(top['cursor'], 'cursor');
  const cursor = {
    epoch: count(c['epoch'], 'cursor.epoch'),
    step: count(c['step'], 'cursor.step'),
    imagesSeen: count(c['imagesSeen'], 'cursor.imagesSeen'),
  };
  const seed = finite(top['seed'], 'seed');
  const config = obj(top['config'], 'config');

  const filesRaw = obj(top['files'], 'files');
  const files: Record<string, FileRecord> = {};
  for (const [name, v] of Object.entries(filesRaw)) {
    const f = `files["${name}"]`;
    const r = obj(v, f);
    const sha256 = str(r['sha256'], `${f}.sha256`);
    if (!/^[0-9a-f]{64}$/.test(sha256)) bad(`${f}.sha256`, 'must be 64 lowercase hex digits');
    files[name] = { bytes: count(r['bytes'], `${f}.bytes`), sha256 };
  }

  return {
    createdAt,
    modelKind,
    hyper,
    paramSpecs,
    optimizer: { name: optName, scalars, arrays },
    modelState,
    rng,
    cursor,
    seed,
    config,
    files,
  };
}
