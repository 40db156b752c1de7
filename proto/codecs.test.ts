/**
 * The state and result codecs: what rank 0 sends is what the coordinator writes, and a short,
 * reordered or hostile stream is refused with an error naming the sender.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { CheckpointData } from '../core/train/checkpoint.js';
import type { ResultPart__Output } from './gen/harmonium/v1/ResultPart.js';
import type { StatePart__Output } from './gen/harmonium/v1/StatePart.js';
import { encodeResults, ResultAssembler } from './result-codec.js';
import { encodeState, SEGMENT_BYTES, StateAssembler } from './state-codec.js';

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
    assert.throws(() => short.finish(), /state from rank 0: array .* has \d+ of \d+ values/);
    const swapped = new StateAssembler('rank 0');
    swapped.add(parts[0]!);
    assert.throws(() => swapped.add(parts[2]!), /segment of params at \d+ .* where 0 was expected/);
    assert.throws(() => new StateAssembler('rank 0').add(parts[1]!), /before the header/);
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
});
