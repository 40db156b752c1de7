/**
 * The state and result codecs: what rank 0 sends is what the coordinator writes, and a short,
 * reordered or hostile stream is refused with an error naming the sender.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { CheckpointData } from '../core/train/checkpoint.js';
import type { ResultPart__Output } from './gen/harmonium/v1/ResultPart.js';
import type { StatePart__Output } from './gen/harmonium/v1/StatePart.js';
import { CheckpointError, DataError } from '../core/errors.js';
import {
  encodeResults,
  MAX_RESULT_FILES,
  MAX_RESULT_NAME_LENGTH,
  MAX_SUMMARY_BYTES,
  ResultAssembler,
} from './result-codec.js';
import {
  encodeState,
  MAX_JSON_DEPTH,
  MAX_STATE_ARRAYS,
  MAX_STATE_BYTES,
  MAX_STATE_HEADER_BYTES,
  SEGMENT_BYTES,
  StateAssembler,
} from './state-codec.js';

const n = SEGMENT_BYTES / 4 + 1001;
const state: CheckpointData = {
  modelKind: 'ae',
  hyper: { layers: [4] },
  paramSpecs: [{ name: 'w', shape: [n] }],
  params: Float32Array.from({ length: n }, (_, i) => i * 0.5),
  optimizer: {
    name: 'adam',
    state: { t: 7, m: new Float32Array(n).fill(1), v: new Float32Array(n).fill(2) },
  },
  rng: [1, 2, 3, 4] as unknown as CheckpointData['rng'],
  cursor: { epoch: 1, step: 20, imagesSeen: 2000 },
  seed: 5,
  config: { model: 'ae' },
  modelState: Float32Array.of(9, 8, 7),
};

/** What the receiving side sees: proto-loader's decoded messages carry the oneof's name. */
function received(parts: Iterable<{ headerJson?: string; segment?: unknown }>): StatePart__Output[] {
  return [...parts].map((p) =>
    'headerJson' in p && p.headerJson !== undefined
      ? ({ part: 'headerJson', headerJson: p.headerJson } as StatePart__Output)
      : ({ part: 'segment', segment: p.segment } as StatePart__Output),
  );
}

describe('state codec', () => {
  it('round-trips a checkpoint state in segments under the message limit', () => {
    const parts = received(encodeState(state, 'job-1'));
    assert.ok(parts.length > 4, 'params and moments span several segments');
    for (const p of parts) if (p.segment) assert.ok(p.segment.data.byteLength <= SEGMENT_BYTES);
    const a = new StateAssembler('rank 0');
    for (const p of parts) a.add(p);
    const { jobId, data } = a.finish();
    assert.equal(jobId, 'job-1');
    assert.deepEqual(data.params, state.params);
    assert.deepEqual(data.optimizer.state, state.optimizer.state);
    assert.deepEqual(data.modelState, state.modelState);
    assert.deepEqual(data.cursor, state.cursor);
  });

  it('refuses a stream cut short, a segment out of order, or data before the header', () => {
    const parts = received(encodeState(state, 'job-1'));
    const short = new StateAssembler('rank 0');
    for (const p of parts.slice(0, -1)) short.add(p);
    assert.throws(() => short.finish(), /state from rank 0: array ".*": has \d+ of \d+ values/);
    const swapped = new StateAssembler('rank 0');
    swapped.add(parts[0]!);
    assert.throws(() => swapped.add(parts[2]!), /segment of "params": at \d+ .* where 0 was expected/);
    assert.throws(() => new StateAssembler('rank 0').add(parts[1]!), /before the header/);
  });
});

describe('state codec limits', () => {
  const header = (): Record<string, unknown> =>
    JSON.parse(received(encodeState(state, 'job-1'))[0]!.headerJson!) as Record<string, unknown>;
  const headerPart = (h: unknown): StatePart__Output =>
    ({ part: 'headerJson', headerJson: typeof h === 'string' ? h : JSON.stringify(h) }) as StatePart__Output;
  /** A CheckpointError naming the sender and matching `pattern`. */
  const invalid =
    (pattern: RegExp) =>
    (e: unknown): boolean =>
      e instanceof CheckpointError &&
      e.code === 'CHECKPOINT_INVALID' &&
      /state from w-1: /.test(e.message) &&
      pattern.test(e.message);

  it('refuses a header over MAX_STATE_HEADER_BYTES, or one that is not a JSON object', () => {
    assert.equal(MAX_STATE_HEADER_BYTES, 1 << 20);
    const big = { ...header(), config: { pad: 'é'.repeat(MAX_STATE_HEADER_BYTES / 2) } };
    assert.throws(
      () => new StateAssembler('w-1').add(headerPart(big)),
      invalid(/header: more than 1048576 bytes/),
    );
    for (const h of ['null', '[]', '7', '{']) {
      assert.throws(() => new StateAssembler('w-1').add(headerPart(h)), invalid(/header: /));
    }
  });

  it('names the field of a header that is missing or of the wrong type', () => {
    const cases: [string, unknown, RegExp][] = [
      ['arrays', undefined, /arrays: must be an object/],
      ['arrays', { params: -1 }, /arrays\["params"\]: must be an integer >= 0/],
      ['arrays', { params: 1.5 }, /arrays\["params"\]: must be an integer >= 0/],
      ['arrays', { 'optimizer/m': n }, /arrays: has no params/],
      ['paramSpecs', [{ name: 'w', shape: ['7'] }], /paramSpecs\[0\]\.shape\[0\]: must be an integer/],
      [
        'paramSpecs',
        [{ name: 'w', shape: [n + 1] }],
        /arrays\["params"\]: is \d+ values, paramSpecs need \d+/,
      ],
      ['rng', [1, 2, 3], /rng: must hold 4 uint32 words/],
      ['cursor', null, /cursor: must be an object/],
      ['optimizerScalars', { t: 'x' }, /optimizerScalars\.t: must be a finite number/],
      ['optimizerScalars', { m: 1 }, /arrays\["optimizer\/m"\]: is also an optimizer scalar/],
      ['jobId', 7, /jobId: must be a string/],
    ];
    for (const [field, value, pattern] of cases) {
      assert.throws(
        () => new StateAssembler('w-1').add(headerPart({ ...header(), [field]: value })),
        invalid(pattern),
      );
    }
  });

  it('refuses a header nested deeper than MAX_JSON_DEPTH, which JSON.stringify could not write back', () => {
    const deep = (n: number): unknown => {
      let v: unknown = 1;
      for (let i = 0; i < n; i++) v = [v];
      return v;
    };
    // The header object itself is the first level, hyper the second.
    new StateAssembler('w-1').add(headerPart({ ...header(), hyper: { a: deep(MAX_JSON_DEPTH - 2) } }));
    const text = JSON.stringify({ ...header(), hyper: { a: 0 } }).replace(
      '"a":0',
      `"a":${'['.repeat(10_000)}${']'.repeat(10_000)}`,
    );
    assert.throws(
      () => new StateAssembler('w-1').add(headerPart(text)),
      invalid(new RegExp(`header: nests deeper than ${MAX_JSON_DEPTH} levels`)),
    );
  });

  it('refuses array names outside params, model_state and optimizer/<key>, and too many arrays', () => {
    for (const name of ['weights', 'optimizer/__proto__', 'optimizer/', 'optimizer/a/b', '__proto__']) {
      const h = header();
      const arrays = { ...(h['arrays'] as Record<string, number>), [name]: 1 };
      assert.throws(
        () => new StateAssembler('w-1').add(headerPart({ ...h, arrays })),
        invalid(/is not params, model_state or optimizer\/<key>/),
      );
    }
    const h = header();
    const arrays: Record<string, number> = { ...(h['arrays'] as Record<string, number>) };
    for (let i = 0; i < MAX_STATE_ARRAYS; i++) arrays[`optimizer/k${i}`] = 1;
    assert.throws(
      () => new StateAssembler('w-1').add(headerPart({ ...h, arrays })),
      invalid(new RegExp(`arrays: \\d+ arrays, more than ${MAX_STATE_ARRAYS}`)),
    );
  });

  it('checks the arrays against MAX_STATE_BYTES in total before allocating any', () => {
    assert.equal(MAX_STATE_BYTES, 2 ** 31);
    const h = header();
    const quarter = MAX_STATE_BYTES / 16;
    const arrays = {
      ...(h['arrays'] as Record<string, number>),
      'optimizer/m': quarter,
      'optimizer/v': quarter * 3,
    };
    const before = process.memoryUsage().arrayBuffers;
    assert.throws(
      () => new StateAssembler('w-1').add(headerPart({ ...h, arrays })),
      invalid(/arrays\["optimizer\/v"\]: takes the state past 2147483648 bytes/),
    );
    assert.ok(process.memoryUsage().arrayBuffers - before < 64 << 20, 'allocated before refusing');
    // Smaller limits (as the fuzz targets use) are held to the same way.
    assert.throws(
      () =>
        new StateAssembler('w-1', { headerBytes: 1 << 20, arrays: 8, stateBytes: 4 * n }).add(
          headerPart(header()),
        ),
      invalid(/takes the state past/),
    );
  });

  it('refuses a segment that overruns its array or is not whole floats', () => {
    const parts = received(encodeState(state, 'job-1'));
    const a = new StateAssembler('w-1');
    a.add(parts[0]!);
    const seg = (array: string, offset: number, bytes: number): StatePart__Output =>
      ({ part: 'segment', segment: { array, offset, data: Buffer.alloc(bytes) } }) as StatePart__Output;
    assert.throws(
      () => a.add(seg('model_state', 0, 16)),
      invalid(/segment of "model_state": overflows the array's 3 values/),
    );
    assert.throws(
      () => a.add(seg('model_state', 0, 6)),
      invalid(/segment of "model_state": at 0 \(6 bytes\)/),
    );
    assert.throws(
      () => a.add(seg('optimizer/t', 0, 4)),
      invalid(/segment of "optimizer\/t": names no array/),
    );
    assert.throws(() => a.add({} as StatePart__Output), invalid(/part: neither a header nor a segment/));
  });
});

describe('result codec', () => {
  const decode = (parts: Iterable<{ summaryJson?: string; file?: unknown }>): ResultPart__Output[] =>
    [...parts].map((p) =>
      p.summaryJson !== undefined
        ? ({ part: 'summaryJson', summaryJson: p.summaryJson } as ResultPart__Output)
        : ({ part: 'file', file: p.file } as ResultPart__Output),
    );

  it('round-trips the summary and files, large and empty', () => {
    const big = Buffer.alloc(SEGMENT_BYTES * 2 + 3, 7);
    const a = new ResultAssembler('rank 0');
    for (const p of decode(
      encodeResults('{"steps":3}', [
        { name: 'samples.png', data: big },
        { name: 'empty.png', data: new Uint8Array(0) },
      ]),
    ))
      a.add(p);
    const { summary, files } = a.finish();
    assert.deepEqual(summary, { steps: 3 });
    assert.deepEqual(
      files.map((f) => [f.name, f.data.byteLength]),
      [
        ['samples.png', big.byteLength],
        ['empty.png', 0],
      ],
    );
  });

  it('refuses file names that leave the output directory, and files cut short', () => {
    for (const name of ['../x.png', '/etc/passwd', 'a/b.png', '.hidden']) {
      const a = new ResultAssembler('rank 0');
      assert.throws(
        () =>
          a.add({
            part: 'file',
            file: { name, offset: 0, data: Buffer.from('x'), last: true },
          } as ResultPart__Output),
        /is not a plain file name/,
      );
    }
    const a = new ResultAssembler('rank 0');
    a.add({ part: 'summaryJson', summaryJson: '{}' } as ResultPart__Output);
    a.add({
      part: 'file',
      file: { name: 'a.png', offset: 0, data: Buffer.from('x'), last: false },
    } as ResultPart__Output);
    assert.throws(() => a.finish(), /a\.png was cut short at 1 bytes/);
  });

  const file = (name: string, offset: number, bytes: number, last = true): ResultPart__Output =>
    ({ part: 'file', file: { name, offset, data: Buffer.alloc(bytes, 1), last } }) as ResultPart__Output;
  /** A DataError naming the sender and matching `pattern`. */
  const refused =
    (pattern: RegExp) =>
    (e: unknown): boolean =>
      e instanceof DataError &&
      e.code === 'DATA_FORMAT' &&
      /results from w-1: /.test(e.message) &&
      pattern.test(e.message);

  it('refuses a summary over MAX_SUMMARY_BYTES, or one that is not a JSON object', () => {
    assert.equal(MAX_SUMMARY_BYTES, 1 << 20);
    const big = {
      part: 'summaryJson',
      summaryJson: `"${'x'.repeat(MAX_SUMMARY_BYTES)}"`,
    } as ResultPart__Output;
    assert.throws(() => new ResultAssembler('w-1').add(big), refused(/summary: more than 1048576 bytes/));
    for (const json of ['[]', 'null', '3', '"s"']) {
      const a = new ResultAssembler('w-1');
      a.add({ part: 'summaryJson', summaryJson: json } as ResultPart__Output);
      assert.throws(() => a.finish(), refused(/summary is not an object/));
    }
  });

  it('refuses a summary nested deeper than MAX_JSON_DEPTH', () => {
    const a = new ResultAssembler('w-1');
    a.add({
      part: 'summaryJson',
      summaryJson: `{"a":${'['.repeat(10_000)}${']'.repeat(10_000)}}`,
    } as ResultPart__Output);
    assert.throws(
      () => a.finish(),
      refused(new RegExp(`summary nests deeper than ${MAX_JSON_DEPTH} levels`)),
    );
  });

  it('refuses names over MAX_RESULT_NAME_LENGTH and more files than MAX_RESULT_FILES', () => {
    assert.throws(
      () => new ResultAssembler('w-1').add(file(`${'a'.repeat(MAX_RESULT_NAME_LENGTH - 3)}.png`, 0, 1)),
      refused(/is not a plain file name/),
    );
    new ResultAssembler('w-1').add(file(`${'a'.repeat(MAX_RESULT_NAME_LENGTH - 4)}.png`, 0, 1));
    const a = new ResultAssembler('w-1');
    for (let i = 0; i < MAX_RESULT_FILES; i++) a.add(file(`f${i}`, 0, 0));
    assert.throws(
      () => a.add(file('one-more', 0, 0)),
      refused(new RegExp(`one-more: more than ${MAX_RESULT_FILES} files`)),
    );
  });

  it('caps each file and all files together, before keeping the segment', () => {
    const limits = { summaryBytes: 1024, files: 4, fileBytes: 100, totalBytes: 150 };
    const a = new ResultAssembler('w-1', limits);
    a.add(file('a.png', 0, 60, false));
    assert.throws(() => a.add(file('a.png', 60, 41)), refused(/a\.png: more than 100 bytes/));
    a.add(file('a.png', 60, 40));
    assert.throws(
      () => a.add(file('b.png', 0, 51)),
      refused(/b\.png: the files take more than 150 bytes together/),
    );
    assert.throws(() => a.add(file('a.png', 100, 1)), refused(/a\.png: segment at 100, expected none/));
  });
});
