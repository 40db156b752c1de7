/**
 * A checkpoint's state as a stream of StatePart messages (coordinator.proto): a JSON header, then
 * every array in segments of at most SEGMENT_BYTES of float32 little-endian, in a fixed order. The
 * assembler checks every segment against the header, so a short or garbled transfer is an error,
 * never a silently wrong checkpoint; and it checks the header against fixed limits before it
 * allocates anything, so a hostile sender cannot make it reserve more than MAX_STATE_BYTES.
 */
import { nestsDeeperThan } from '../core/json-depth.js';
import type { RngState } from '../core/data/rng.js';
import { CheckpointError } from '../core/errors.js';
import { flatLength, type ParamSpec } from '../core/models/model.js';
import type { CheckpointData } from '../core/train/checkpoint.js';
import type { OptimizerState } from '../core/train/optimizer.js';
import type { StatePart, StatePart__Output } from './gen/harmonium/v1/StatePart.js';

/** Bytes per segment: well under gRPC's 4 MiB default message limit. */
export const SEGMENT_BYTES = 1 << 20;

/** The most UTF-8 bytes a state header may take: param specs and config are a few KiB. */
export const MAX_STATE_HEADER_BYTES = 1 << 20;

/** The most arrays a state may carry: params, model_state and a few optimizer moments. */
export const MAX_STATE_ARRAYS = 64;

/**
 * The most float32 bytes all arrays of one state may take together (and so any one of them):
 * 2 GiB, params and two Adam moments of a model of about 178M parameters.
 */
export const MAX_STATE_BYTES = 2 ** 31;

/**
 * The deepest a header or summary JSON may nest arrays and objects. JSON.parse takes any depth,
 * but JSON.stringify and structuredClone overflow the stack at a few thousand levels, so a value
 * nested that deep would break whoever writes it out later.
 */
export const MAX_JSON_DEPTH = 64;

/** An optimizer state key (`m`, `velocity`, `t`): a plain identifier, never `__proto__`. */
const STATE_KEY = /^[A-Za-z][A-Za-z0-9_]{0,63}$/;

interface StateHeader {
  readonly jobId: string;
  readonly modelKind: string;
  readonly hyper: Readonly<Record<string, unknown>>;
  readonly paramSpecs: CheckpointData['paramSpecs'];
  readonly cursor: CheckpointData['cursor'];
  readonly rng: CheckpointData['rng'];
  readonly seed: number;
  readonly config: Readonly<Record<string, unknown>>;
  readonly optimizerName: string;
  readonly optimizerScalars: Record<string, number>;
  /** Length in float32 values of every array that follows, in sending order. */
  readonly arrays: Record<string, number>;
}

function namedArrays(data: CheckpointData): [string, Float32Array][] {
  const out: [string, Float32Array][] = [['params', data.params]];
  for (const [k, v] of Object.entries(data.optimizer.state)) {
    if (v instanceof Float32Array) out.push([`optimizer/${k}`, v]);
  }
  if (data.modelState) out.push(['model_state', data.modelState]);
  return out;
}

/** The messages that carry `data` for job `jobId`. */
export function* encodeState(data: CheckpointData, jobId: string): Generator<StatePart> {
  const arrays = namedArrays(data);
  const scalars: Record<string, number> = {};
  for (const [k, v] of Object.entries(data.optimizer.state)) if (typeof v === 'number') scalars[k] = v;
  const header: StateHeader = {
    jobId,
    modelKind: data.modelKind,
    hyper: data.hyper,
    paramSpecs: data.paramSpecs,
    cursor: data.cursor,
    rng: data.rng,
    seed: data.seed,
    config: data.config,
    optimizerName: data.optimizer.name,
    optimizerScalars: scalars,
    arrays: Object.fromEntries(arrays.map(([name, a]) => [name, a.length])),
  };
  yield { headerJson: JSON.stringify(header) };
  const perSegment = SEGMENT_BYTES / 4;
  for (const [name, a] of arrays) {
    for (let at = 0; at < a.length; at += perSegment) {
      const part = a.subarray(at, Math.min(a.length, at + perSegment));
      yield {
        segment: {
          array: name,
          offset: at,
          data: Buffer.from(part.buffer, part.byteOffset, part.byteLength),
        },
      };
    }
  }
}

/** The limits a StateAssembler holds a stream to; tests shrink them. */
export interface StateLimits {
  readonly headerBytes: number;
  readonly arrays: number;
  readonly stateBytes: number;
}

/** The limits of a real transfer. */
export const STATE_LIMITS: StateLimits = {
  headerBytes: MAX_STATE_HEADER_BYTES,
  arrays: MAX_STATE_ARRAYS,
  stateBytes: MAX_STATE_BYTES,
};

type Fail = (field: string, message: string) => never;

function object(v: unknown, field: string, fail: Fail): Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
    ? (v as Record<string, unknown>)
    : fail(field, 'must be an object');
}

function string(v: unknown, field: string, fail: Fail): string {
  return typeof v === 'string' ? v : fail(field, 'must be a string');
}

function count(v: unknown, field: string, fail: Fail): number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0
    ? v
    : fail(field, 'must be an integer >= 0');
}

function finite(v: unknown, field: string, fail: Fail): number {
  return typeof v === 'number' && Number.isFinite(v) ? v : fail(field, 'must be a finite number');
}

function list(v: unknown, field: string, fail: Fail): unknown[] {
  return Array.isArray(v) ? v : fail(field, 'must be an array');
}

function isArrayName(name: string): boolean {
  return (
    name === 'params' ||
    name === 'model_state' ||
    (name.startsWith('optimizer/') && STATE_KEY.test(name.slice('optimizer/'.length)))
  );
}

/** Checks every field of a parsed header, and the arrays against `limits`. */
function parseHeader(raw: unknown, limits: StateLimits, fail: Fail): StateHeader {
  const top = object(raw, 'header', fail);
  const specNames = new Set<string>();
  const paramSpecs: ParamSpec[] = list(top['paramSpecs'], 'paramSpecs', fail).map((v, i) => {
    const s = object(v, `paramSpecs[${i}]`, fail);
    const name = string(s['name'], `paramSpecs[${i}].name`, fail);
    if (specNames.has(name)) fail(`paramSpecs[${i}].name`, `${JSON.stringify(name)} appears twice`);
    specNames.add(name);
    return {
      name,
      shape: list(s['shape'], `paramSpecs[${i}].shape`, fail).map((d, j) =>
        count(d, `paramSpecs[${i}].shape[${j}]`, fail),
      ),
    };
  });
  const cursor = object(top['cursor'], 'cursor', fail);
  const rng = list(top['rng'], 'rng', fail);
  if (rng.length !== 4) fail('rng', `must hold 4 uint32 words, has ${rng.length}`);
  for (const [i, w] of rng.entries()) {
    if (count(w, `rng[${i}]`, fail) > 0xffffffff) fail(`rng[${i}]`, 'must be a uint32');
  }
  const scalars = object(top['optimizerScalars'], 'optimizerScalars', fail);
  for (const [k, v] of Object.entries(scalars)) {
    if (!STATE_KEY.test(k)) fail('optimizerScalars', `key ${JSON.stringify(k)} is not an identifier`);
    finite(v, `optimizerScalars.${k}`, fail);
  }

  const arrays = Object.entries(object(top['arrays'], 'arrays', fail));
  if (arrays.length > limits.arrays) fail('arrays', `${arrays.length} arrays, more than ${limits.arrays}`);
  let bytes = 0;
  for (const [name, length] of arrays) {
    const field = `arrays[${JSON.stringify(name)}]`;
    if (!isArrayName(name)) fail(field, 'is not params, model_state or optimizer/<key>');
    if (name.startsWith('optimizer/') && Object.hasOwn(scalars, name.slice('optimizer/'.length))) {
      fail(field, 'is also an optimizer scalar');
    }
    bytes += 4 * count(length, field, fail);
    if (bytes > limits.stateBytes) fail(field, `takes the state past ${limits.stateBytes} bytes`);
  }
  const lengths = top['arrays'] as Record<string, number>;
  if (!Object.hasOwn(lengths, 'params')) fail('arrays', 'has no params');
  const specValues = flatLength(paramSpecs);
  if (lengths['params'] !== specValues) {
    fail('arrays["params"]', `is ${lengths['params']} values, paramSpecs need ${specValues}`);
  }

  return {
    jobId: string(top['jobId'], 'jobId', fail),
    modelKind: string(top['modelKind'], 'modelKind', fail),
    hyper: object(top['hyper'], 'hyper', fail),
    paramSpecs,
    cursor: {
      epoch: count(cursor['epoch'], 'cursor.epoch', fail),
      step: count(cursor['step'], 'cursor.step', fail),
      imagesSeen: count(cursor['imagesSeen'], 'cursor.imagesSeen', fail),
    },
    rng: rng as unknown as RngState,
    seed: finite(top['seed'], 'seed', fail),
    config: object(top['config'], 'config', fail),
    optimizerName: string(top['optimizerName'], 'optimizerName', fail),
    optimizerScalars: scalars as Record<string, number>,
    arrays: lengths,
  };
}

/**
 * Rebuilds a state from its messages, checking each against the header. Every failure is a
 * CheckpointError CHECKPOINT_INVALID naming the sender and the field.
 */
export class StateAssembler {
  private header: StateHeader | null = null;
  private readonly arrays = new Map<string, { data: Float32Array; filled: number }>();

  /** `from` names the sender in errors (e.g. "worker w-1 (rank 0)"). */
  constructor(
    private readonly from: string,
    private readonly limits: StateLimits = STATE_LIMITS,
  ) {}

  private readonly fail: Fail = (field, message) => {
    throw new CheckpointError('CHECKPOINT_INVALID', `state from ${this.from}: ${field}: ${message}`);
  };

  add(part: StatePart__Output): void {
    if (part.part === 'headerJson') {
      if (this.header !== null) this.fail('header', 'a second header');
      const json = part.headerJson ?? '';
      // Length in UTF-16 units bounds the UTF-8 size from below: no need to measure a huge one.
      if (json.length > this.limits.headerBytes || Buffer.byteLength(json) > this.limits.headerBytes) {
        this.fail('header', `more than ${this.limits.headerBytes} bytes`);
      }
      let raw: unknown;
      try {
        raw = JSON.parse(json);
      } catch (err) {
        this.fail('header', `not JSON: ${(err as Error).message}`);
      }
      if (nestsDeeperThan(raw, MAX_JSON_DEPTH)) {
        this.fail('header', `nests deeper than ${MAX_JSON_DEPTH} levels`);
      }
      // Allocated only now that every length and their sum is known to be within the limits.
      const header = parseHeader(raw, this.limits, this.fail);
      for (const [name, length] of Object.entries(header.arrays)) {
        this.arrays.set(name, { data: new Float32Array(length), filled: 0 });
      }
      this.header = header;
      return;
    }
    const seg = part.segment;
    if (!seg) this.fail('part', 'neither a header nor a segment');
    const field = `segment of ${JSON.stringify(seg.array)}`;
    if (this.header === null) this.fail(field, 'before the header');
    const target = this.arrays.get(seg.array);
    if (!target) this.fail(field, 'names no array of the header');
    const bytes = seg.data;
    if (bytes.byteLength % 4 !== 0 || seg.offset !== target.filled) {
      this.fail(field, `at ${seg.offset} (${bytes.byteLength} bytes) where ${target.filled} was expected`);
    }
    if (bytes.byteLength / 4 > target.data.length - target.filled) {
      this.fail(field, `overflows the array's ${target.data.length} values`);
    }
    new Uint8Array(target.data.buffer, target.filled * 4, bytes.byteLength).set(bytes);
    target.filled += bytes.byteLength / 4;
  }

  /** The complete state and the job id it belongs to; throws when anything is missing. */
  finish(): { jobId: string; data: CheckpointData } {
    const h = this.header;
    if (h === null) this.fail('header', 'missing');
    for (const [name, a] of this.arrays) {
      if (a.filled !== a.data.length) {
        this.fail(`array ${JSON.stringify(name)}`, `has ${a.filled} of ${a.data.length} values`);
      }
    }
    const state: OptimizerState = { ...h.optimizerScalars };
    for (const [name, a] of this.arrays) {
      if (name.startsWith('optimizer/')) state[name.slice('optimizer/'.length)] = a.data;
    }
    return {
      jobId: h.jobId,
      data: {
        modelKind: h.modelKind,
        hyper: h.hyper,
        paramSpecs: h.paramSpecs,
        params: this.arrays.get('params')!.data,
        optimizer: { name: h.optimizerName, state },
        rng: h.rng,
        cursor: h.cursor,
        seed: h.seed,
        config: h.config,
        modelState: this.arrays.get('model_state')?.data ?? null,
      },
    };
  }
}
