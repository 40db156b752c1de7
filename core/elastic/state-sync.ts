/**
 * Live state transfer inside a new generation, as Horovod's State.sync() broadcasts from one rank:
 * the member that holds the job's newest committed state (the source) sends it over the group's
 * own peer links to every other member, which adopts it: parameters, optimizer state, the model
 * state of every position of the global batch, the cursor, and the committed steps' records the
 * coordinator does not hold yet (step-log.ts). Nothing goes through the coordinator or a disk.
 *
 * Two broadcasts: a fixed header of lengths, which a receiver checks against what its own model
 * implies before it allocates anything, then the payload [params | optimizer arrays | model state |
 * JSON bytes]. Each length travels as two 16-bit halves, exact in float32 at any size.
 */
import type { ProcessGroup } from '../collective/process-group.js';
import { ClusterError } from '../errors.js';
import type { DataCursor } from '../train/checkpoint.js';
import type { OptimizerState } from '../train/optimizer.js';
import type { TrainingState } from '../train/training-state.js';

/** Header slots: version, then params, optimizer arrays, model state and JSON lengths (two halves each). */
const HEADER_LENGTH = 9;
const VERSION = 1;
/** Largest JSON part accepted (cursor, optimizer scalars, pending records). */
const MAX_JSON_BYTES = 64 << 20;
/** Most per-parameter optimizer arrays any optimizer keeps (Adam: m and v). */
const MAX_OPTIMIZER_ARRAYS = 4;

/** Options of {@link syncState}, identical on every member. */
export interface SyncOptions {
  /** The rank that sends its state. */
  readonly source: number;
  /** Distinct tags for the header and the payload (e.g. from the generation's start step). */
  readonly tags: { readonly header: number; readonly payload: number };
  readonly timeoutMs: number;
  /** The source's pending step-log JSON (ignored elsewhere). */
  readonly log: string;
}

interface SyncJson {
  readonly cursor: DataCursor;
  readonly optimizer: {
    readonly name: string;
    readonly scalars: Record<string, number>;
    readonly arrays: string[];
  };
  readonly log: string;
}

function putLength(h: Float32Array, slot: number, n: number): void {
  h[slot] = Math.floor(n / 65536);
  h[slot + 1] = n % 65536;
}

function getLength(h: Float32Array, slot: number): number {
  return h[slot]! * 65536 + h[slot + 1]!;
}

function invalid(source: number, what: string): ClusterError {
  return new ClusterError('STATE_INVALID', `state sent by rank ${source}: ${what}`);
}

/**
 * Makes every member's `state` the source's. Returns the source's pending step-log JSON on every
 * rank. Throws the group's CollectiveError when the transfer breaks, and ClusterError STATE_INVALID
 * naming the source when what arrives does not fit this member's model.
 */
export async function syncState(
  group: ProcessGroup,
  state: TrainingState,
  opts: SyncOptions,
): Promise<string> {
  const { source, timeoutMs } = opts;
  const sending = group.rank === source;
  const header = new Float32Array(HEADER_LENGTH);
  let json: Uint8Array = new Uint8Array(0);
  let arrays: Array<[string, Float32Array]> = [];
  if (sending) {
    const optState = state.optimizerState();
    arrays = Object.entries(optState)
      .filter((e): e is [string, Float32Array] => e[1] instanceof Float32Array)
      .sort((a, b) => a[0].localeCompare(b[0]));
    const scalars = Object.fromEntries(
      Object.entries(optState).filter((e): e is [string, number] => typeof e[1] === 'number'),
    );
    const body: SyncJson = {
      cursor: state.cursor,
      optimizer: { name: state.optimizer.name, scalars, arrays: arrays.map(([k]) => k) },
      log: opts.log,
    };
    json = new TextEncoder().encode(JSON.stringify(body));
    header[0] = VERSION;
    putLength(header, 1, state.params.length);
    putLength(header, 3, arrays.length);
    putLength(header, 5, state.modelState?.length ?? 0);
    putLength(header, 7, json.length);
  }
  await group.broadcast(header, source, { tag: opts.tags.header, timeoutMs });

  const paramsLength = getLength(header, 1);
  const arrayCount = getLength(header, 3);
  const modelStateLength = getLength(header, 5);
  const jsonLength = getLength(header, 7);
  if (!sending) {
    const rows = state.setup.config.batchSize;
    if (header[0] !== VERSION) throw invalid(source, `header version ${header[0]}, expected ${VERSION}`);
    if (paramsLength !== state.params.length) {
      throw invalid(source, `${paramsLength} parameters, this member's model has ${state.params.length}`);
    }
    if (arrayCount > MAX_OPTIMIZER_ARRAYS) throw invalid(source, `${arrayCount} optimizer arrays`);
    if (modelStateLength % rows !== 0 || modelStateLength / rows > 1 << 24) {
      throw invalid(
        source,
        `model state of ${modelStateLength} values is not rows for a global batch of ${rows}`,
      );
    }
    if (modelStateLength > 0 && !state.setup.model.loadState) {
      throw invalid(source, `model state for ${state.setup.model.kind}, which keeps none`);
    }
    if (jsonLength > MAX_JSON_BYTES)
      throw invalid(source, `${jsonLength} bytes of JSON (at most ${MAX_JSON_BYTES})`);
  }

  const total = paramsLength * (1 + arrayCount) + modelStateLength + jsonLength;
  const payload = new Float32Array(total);
  let at = 0;
  if (sending) {
    payload.set(state.params, at);
    at += paramsLength;
    for (const [, a] of arrays) {
      payload.set(a, at);
      at += a.length;
    }
    if (state.modelState) payload.set(state.modelState, at);
    at += modelStateLength;
    for (let i = 0; i < json.length; i++) payload[at + i] = json[i]!;
  }
  await group.broadcast(payload, source, { tag: opts.tags.payload, timeoutMs });
  if (sending) return opts.log;

  at = paramsLength * (1 + arrayCount) + modelStateLength;
  const bytes = new Uint8Array(jsonLength);
  for (let i = 0; i < jsonLength; i++) bytes[i] = payload[at + i]!;
  let body: SyncJson;
  try {
    body = JSON.parse(new TextDecoder().decode(bytes)) as SyncJson;
  } catch (err) {
    throw invalid(source, `its JSON part does not parse (${(err as Error).message})`);
  }
  const c = body?.cursor;
  if (!c || ![c.epoch, c.step, c.imagesSeen].every((n) => Number.isSafeInteger(n) && n >= 0)) {
    throw invalid(source, 'no valid cursor');
  }
  if (c.step > state.setup.totalSteps)
    throw invalid(source, `cursor at step ${c.step} of ${state.setup.totalSteps}`);
  const names = body.optimizer?.arrays;
  if (!Array.isArray(names) || names.length !== arrayCount || typeof body.optimizer.scalars !== 'object') {
    throw invalid(source, 'optimizer state does not match its header');
  }
  const optimizerState: OptimizerState = { ...body.optimizer.scalars };
  names.forEach((name, i) => {
    optimizerState[String(name)] = payload.slice(paramsLength * (1 + i), paramsLength * (2 + i));
  });
  state.params.set(payload.subarray(0, paramsLength));
  const modelStart = paramsLength * (1 + arrayCount);
  state.adopt(
    c,
    optimizerState,
    modelStateLength > 0 ? payload.slice(modelStart, modelStart + modelStateLength) : null,
  );
  return typeof body.log === 'string' ? body.log : '[]';
}
