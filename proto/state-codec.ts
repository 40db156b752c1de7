/**
 * A checkpoint's state as a stream of StatePart messages (coordinator.proto): a JSON header, then
 * every array in segments of at most SEGMENT_BYTES of float32 little-endian, in a fixed order. The
 * assembler checks every segment against the header, so a short or garbled transfer is an error,
 * never a silently wrong checkpoint.
 */
import type { CheckpointData } from '../core/train/checkpoint.js';
import type { OptimizerState } from '../core/train/optimizer.js';
import { CheckpointError } from '../core/errors.js';
import type { StatePart, StatePart__Output } from './gen/harmonium/v1/StatePart.js';

/** Bytes per segment: well under gRPC's 4 MiB default message limit. */
export const SEGMENT_BYTES = 1 << 20;

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

/** Rebuilds a state from its messages, checking each against the header. */
export class StateAssembler {
  private header: StateHeader | null = null;
  private readonly arrays = new Map<string, { data: Float32Array; filled: number }>();
  private readonly from: string;

  /** `from` names the sender in errors (e.g. "worker w-1 (rank 0)"). */
  constructor(from: string) {
    this.from = from;
  }

  private fail(message: string): never {
    throw new CheckpointError('CHECKPOINT_INVALID', `state from ${this.from}: ${message}`);
  }

  add(part: StatePart__Output): void {
    if (part.part === 'headerJson') {
      if (this.header !== null) this.fail('a second header');
      try {
        this.header = JSON.parse(part.headerJson ?? '') as StateHeader;
      } catch (err) {
        this.fail(`header is not JSON: ${(err as Error).message}`);
      }
      for (const [name, length] of Object.entries(this.header.arrays)) {
        if (!Number.isSafeInteger(length) || length < 0) this.fail(`array ${name} has bad length ${length}`);
        this.arrays.set(name, { data: new Float32Array(length), filled: 0 });
      }
      return;
    }
    const seg = part.segment;
    if (!seg) this.fail('an empty part');
    if (this.header === null) this.fail(`segment of ${seg.array} before the header`);
    const target = this.arrays.get(seg.array);
    if (!target) this.fail(`segment of unknown array ${seg.array}`);
    const bytes = seg.data;
    if (bytes.byteLength % 4 !== 0 || seg.offset !== target.filled) {
      this.fail(
        `segment of ${seg.array} at ${seg.offset} (${bytes.byteLength} bytes) where ${target.filled} was expected`,
      );
    }
    if (target.filled + bytes.byteLength / 4 > target.data.length) this.fail(`array ${seg.array} overflows`);
    new Uint8Array(target.data.buffer, target.filled * 4, bytes.byteLength).set(bytes);
    target.filled += bytes.byteLength / 4;
  }

  /** The complete state and the job id it belongs to; throws when anything is missing. */
  finish(): { jobId: string; data: CheckpointData } {
    const h = this.header;
    if (h === null) this.fail('no header');
    for (const [name, a] of this.arrays) {
      if (a.filled !== a.data.length) this.fail(`array ${name} has ${a.filled} of ${a.data.length} values`);
    }
    const state: OptimizerState = { ...h.optimizerScalars };
    for (const [name, a] of this.arrays) if (name.startsWith('optimizer/')) state[name.slice(10)] = a.data;
    const params = this.arrays.get('params');
    if (!params) this.fail('no params array');
    return {
      jobId: h.jobId,
      data: {
        modelKind: h.modelKind,
        hyper: h.hyper,
        paramSpecs: h.paramSpecs,
        params: params.data,
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
