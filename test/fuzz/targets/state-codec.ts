/**
 * Fuzz target: a SaveState / FetchState stream of StateParts into a StateAssembler, message by
 * message as the coordinator deserializes them. Inputs are encodeState's streams with their header
 * JSON and segments edited, then framed (message-stream.ts), or those bytes mutated.
 */
import fc from 'fast-check';

import type { CheckpointData } from '../../../core/train/checkpoint.js';
import type { StatePart, StatePart__Output } from '../../../proto/gen/harmonium/v1/StatePart.js';
import { encodeState, StateAssembler, type StateLimits } from '../../../proto/state-codec.js';
import type { FuzzTarget } from '../fuzz-target.js';
import { deliver, frame, requestCodec } from '../message-stream.js';
import { mutatedBytes } from '../mutate.js';
import { editedWithDeepJson, jsonEdit, listEdit, parsedOrKept, type Edit } from '../structured-edits.js';

/** Far below the real limits, so that a limit that is not enforced shows up as growth. */
const LIMITS: StateLimits = { headerBytes: 16 << 10, arrays: 8, stateBytes: 1 << 20 };

const codec = requestCodec<StatePart, StatePart__Output>('SaveState');

function state(params: number, modelState: boolean): CheckpointData {
  return {
    modelKind: 'ae',
    hyper: { layers: [4] },
    paramSpecs: [
      { name: 'w', shape: [params - 2] },
      { name: 'b', shape: [2] },
    ],
    params: Float32Array.from({ length: params }, (_, i) => i / 7),
    optimizer: {
      name: 'adam',
      state: { t: 3, m: new Float32Array(params).fill(0.5), v: new Float32Array(params).fill(0.25) },
    },
    rng: [1, 2, 3, 4],
    cursor: { epoch: 1, step: 10, imagesSeen: 1000 },
    seed: 7,
    config: { model: 'ae', epochs: 2 },
    modelState: modelState ? Float32Array.of(1, 2, 3) : null,
  };
}

/** encodeState's streams: one segment per array, and a header whose edits reach every field. */
function seedStreams(): StatePart[][] {
  return [state(10, true), state(300, false)].map((s) => [...encodeState(s, 'job-1')]);
}

/** Edits of one segment: where it claims to be, what it names, how much data it carries. */
function segmentEdit(): fc.Arbitrary<Edit<StatePart[]>> {
  const onSegment = (
    i: number,
    change: (s: NonNullable<StatePart['segment']>) => StatePart[],
  ): Edit<StatePart[]> => {
    return (ps) => {
      const k = i % ps.length;
      const seg = ps[k]?.segment;
      return seg ? [...ps.slice(0, k), ...change(seg), ...ps.slice(k + 1)] : ps;
    };
  };
  const offsets = fc.oneof(fc.constantFrom(0, 1, -1, 2 ** 29, 2 ** 53, 2 ** 31 - 1), fc.nat());
  const names = fc.constantFrom(
    'params',
    'model_state',
    'optimizer/m',
    'optimizer/t',
    'optimizer/__proto__',
    '',
    'x',
  );
  return fc.oneof(
    fc.tuple(fc.nat(), offsets).map(([i, offset]) => onSegment(i, (s) => [{ segment: { ...s, offset } }])),
    fc.tuple(fc.nat(), names).map(([i, array]) => onSegment(i, (s) => [{ segment: { ...s, array } }])),
    fc.tuple(fc.nat(), fc.nat()).map(([i, cut]) =>
      onSegment(i, (s) => {
        const data = s.data as Buffer;
        return [{ segment: { ...s, data: data.subarray(0, cut % (data.length + 1)) } }];
      }),
    ),
    // Split in two valid-looking halves, so that a stream has several segments per array.
    fc.tuple(fc.nat(), fc.nat()).map(([i, at]) =>
      onSegment(i, (s) => {
        const data = s.data as Buffer;
        const floats = at % (data.length / 4 + 1);
        const offset = Number(s.offset);
        return [
          { segment: { ...s, data: data.subarray(0, 4 * floats) } },
          { segment: { ...s, offset: offset + floats, data: data.subarray(4 * floats) } },
        ];
      }),
    ),
  );
}

function structured(seed: StatePart[]): fc.Arbitrary<Uint8Array> {
  const header = JSON.parse(seed[0]!.headerJson!) as unknown;
  const headerEdit = jsonEdit(header).map(
    (e): Edit<StatePart[]> =>
      (ps) =>
        ps.map((p) =>
          p.headerJson === undefined
            ? p
            : { headerJson: JSON.stringify(e(parsedOrKept(p.headerJson))) ?? '' },
        ),
  );
  const extra = fc.oneof(
    fc.constant<StatePart>({}),
    fc.string().map((headerJson): StatePart => ({ headerJson })),
    fc.constant<StatePart>({ headerJson: 'x'.repeat(LIMITS.headerBytes + 1) }),
  );
  const edit = fc.oneof(
    { weight: 3, arbitrary: headerEdit },
    { weight: 3, arbitrary: segmentEdit() },
    listEdit(extra),
  );
  return editedWithDeepJson(seed, edit, 6, 'headerJson', 'hyper').map((ps) =>
    frame(ps.map((p) => codec.serialize(p))),
  );
}

/** The StateAssembler fuzz target. */
export const stateCodecTarget: FuzzTarget = {
  name: 'state-codec',
  seeds: () => seedStreams().map((ps) => frame(ps.map((p) => codec.serialize(p)))),
  arbitrary: (seeds) => fc.oneof(...seedStreams().map(structured), mutatedBytes(seeds)),
  run: (input) => {
    const assembler = new StateAssembler('fuzz', LIMITS);
    if (!deliver(input, codec, (part) => assembler.add(part))) return null;
    const { data } = assembler.finish();
    // As writeCheckpoint writes them out.
    JSON.stringify([data.hyper, data.config, data.paramSpecs]);
    return data;
  },
};
