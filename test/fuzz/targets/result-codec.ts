/**
 * Fuzz target: a Finish stream of ResultParts into a ResultAssembler, message by message as the
 * coordinator deserializes them. Inputs are encodeResults' streams with their summary and file
 * segments edited (names that leave the directory, offsets, sizes), then framed, or those bytes
 * mutated.
 */
import fc from 'fast-check';

import type { ResultPart, ResultPart__Output } from '../../../proto/gen/harmonium/v1/ResultPart.js';
import { encodeResults, ResultAssembler, type ResultLimits } from '../../../proto/result-codec.js';
import type { FuzzTarget } from '../fuzz-target.js';
import { deliver, frame, requestCodec } from '../message-stream.js';
import { mutatedBytes } from '../mutate.js';
import { editedWithDeepJson, jsonEdit, listEdit, parsedOrKept, type Edit } from '../structured-edits.js';

/** Far below the real limits, so that a limit that is not enforced shows up as growth. */
const LIMITS: ResultLimits = { summaryBytes: 16 << 10, files: 8, fileBytes: 64 << 10, totalBytes: 256 << 10 };

const codec = requestCodec<ResultPart, ResultPart__Output>('Finish');

const SUMMARY = { jobId: 'job-1', steps: 20, loss: { final: 0.25 }, pictures: ['samples.png'] };

function seedStreams(): ResultPart[][] {
  return [
    [
      ...encodeResults(JSON.stringify(SUMMARY), [
        { name: 'samples.png', data: Buffer.alloc(300, 7) },
        { name: 'empty.png', data: new Uint8Array(0) },
      ]),
    ],
    [...encodeResults('{}', [])],
  ];
}

function fileEdit(): fc.Arbitrary<Edit<ResultPart[]>> {
  const onFile =
    (i: number, change: (f: NonNullable<ResultPart['file']>) => ResultPart[]): Edit<ResultPart[]> =>
    (ps) => {
      const k = i % ps.length;
      const f = ps[k]?.file;
      return f ? [...ps.slice(0, k), ...change(f), ...ps.slice(k + 1)] : ps;
    };
  const names = fc.oneof(
    fc.constantFrom(
      '../x.png',
      '/etc/passwd',
      'a/b.png',
      '.hidden',
      '..',
      '.',
      'a\\b',
      'x'.repeat(300),
      'summary.json',
    ),
    fc.string({ maxLength: 12 }),
  );
  return fc.oneof(
    fc.tuple(fc.nat(), names).map(([i, name]) => onFile(i, (f) => [{ file: { ...f, name } }])),
    fc
      .tuple(fc.nat(), fc.oneof(fc.constantFrom(-1, 1, 2 ** 53), fc.nat()))
      .map(([i, offset]) => onFile(i, (f) => [{ file: { ...f, offset } }])),
    fc.tuple(fc.nat(), fc.boolean()).map(([i, last]) => onFile(i, (f) => [{ file: { ...f, last } }])),
    fc
      .tuple(fc.nat(), fc.nat(LIMITS.fileBytes * 2))
      .map(([i, n]) => onFile(i, (f) => [{ file: { ...f, data: Buffer.alloc(n, 1) } }])),
    // Split in two valid-looking halves, so that a stream has several segments per file.
    fc.tuple(fc.nat(), fc.nat()).map(([i, at]) =>
      onFile(i, (f) => {
        const data = f.data as Buffer;
        const cut = at % (data.length + 1);
        const offset = Number(f.offset);
        return [
          { file: { ...f, data: data.subarray(0, cut), last: false } },
          { file: { ...f, offset: offset + cut, data: data.subarray(cut) } },
        ];
      }),
    ),
  );
}

function structured(seed: ResultPart[]): fc.Arbitrary<Uint8Array> {
  const summaryEdit = jsonEdit(SUMMARY).map(
    (e): Edit<ResultPart[]> =>
      (ps) =>
        ps.map((p) =>
          p.summaryJson === undefined
            ? p
            : { summaryJson: JSON.stringify(e(parsedOrKept(p.summaryJson))) ?? '' },
        ),
  );
  const extra = fc.oneof(
    fc.constant<ResultPart>({}),
    fc.string().map((summaryJson): ResultPart => ({ summaryJson })),
    fc.constant<ResultPart>({ summaryJson: '['.repeat(LIMITS.summaryBytes) }),
    fc.tuple(fc.nat(20), fc.nat(LIMITS.fileBytes)).map(([i, n]): ResultPart => ({
      file: { name: `f${i}.png`, offset: 0, data: Buffer.alloc(n), last: true },
    })),
  );
  const edit = fc.oneof(
    { weight: 2, arbitrary: summaryEdit },
    { weight: 3, arbitrary: fileEdit() },
    listEdit(extra),
  );
  return editedWithDeepJson(seed, edit, 12, 'summaryJson', 'loss').map((ps) =>
    frame(ps.map((p) => codec.serialize(p))),
  );
}

/** The ResultAssembler fuzz target. */
export const resultCodecTarget: FuzzTarget = {
  name: 'result-codec',
  seeds: () => seedStreams().map((ps) => frame(ps.map((p) => codec.serialize(p)))),
  arbitrary: (seeds) => fc.oneof(...seedStreams().map(structured), mutatedBytes(seeds)),
  run: (input) => {
    const assembler = new ResultAssembler('fuzz', LIMITS);
    if (!deliver(input, codec, (part) => assembler.add(part))) return null;
    const results = assembler.finish();
    // As the coordinator writes summary.json.
    JSON.stringify(results.summary);
    return results;
  },
};
