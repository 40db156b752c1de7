/**
 * Every decoder fuzzed for a fixed number of cases from a fixed seed, so that a failure repeats,
 * its corpus (test/fuzz/corpus/<target>/) replayed first; `npm run fuzz` runs the same targets for
 * longer from a random seed. And the real limits: a declared size above one is refused before
 * anything is allocated for it.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';

import { compileSubmission, MAX_SUBMISSION_DEPTH } from '../../core/config/job-submission.js';
import { ConfigError, HarmoniumError } from '../../core/errors.js';
import { decodeImage, MAX_IMAGE_PIXELS } from '../../core/data/image-decode.js';
import { parseIdx } from '../../core/data/idx-reader.js';
import { readTar } from '../../core/data/tar.js';
import { idx } from '../../core/data/testing.js';
import { encodeState, MAX_STATE_BYTES, StateAssembler } from '../../proto/state-codec.js';
import type { StatePart__Output } from '../../proto/gen/harmonium/v1/StatePart.js';
import { checkCase, MAX_CASE_ALLOC_BYTES, type FuzzTarget } from './fuzz-target.js';
import { startFuzz } from './fuzz-session.js';
import { TARGETS } from './targets.js';

/** Fixed, so that `npm test` tries the same cases every time. */
const SEED = 0x4861726d;
/** Cases per target: about 1 s per target on a slow 2-core machine. */
const RUNS = 1500;

describe('fuzzing every decoder', () => {
  const session = startFuzz({
    targets: TARGETS.map((t) => t.name),
    seed: SEED,
    numRuns: RUNS,
    replayCorpus: true,
  });
  for (const target of TARGETS) {
    it(`${target.name}: its corpus and ${RUNS} cases give a value or a HarmoniumError, in time`, async () => {
      const r = await session.report(target.name);
      assert.equal(
        r.failure,
        null,
        `${r.failure?.message}\nrerun: npm run fuzz -- --seed ${SEED} ${target.name}`,
      );
    });
  }
});

describe('the fuzz property', () => {
  const target = (run: FuzzTarget['run']): FuzzTarget => ({
    name: 'probe',
    seeds: () => [],
    arbitrary: () => assert.fail(),
    run,
  });

  it('holds for a value or a HarmoniumError, and fails any other exception or a big allocation', async () => {
    await checkCase(
      target(() => 1),
      new Uint8Array(0),
    );
    await checkCase(
      target(() => {
        throw new HarmoniumError('DATA_FORMAT', 'bad');
      }),
      new Uint8Array(0),
    );
    await assert.rejects(
      checkCase(
        target((b) => b.subarray(0, 1)[5]!.toFixed()),
        new Uint8Array(0),
      ),
      /probe: not a HarmoniumError: TypeError/,
    );
    await assert.rejects(
      checkCase(
        target(() => new Uint8Array(MAX_CASE_ALLOC_BYTES + (16 << 20)).fill(1)),
        new Uint8Array(0),
      ),
      /probe: one case left \d+ MiB allocated/,
    );
  });
});

/** Runs `decode`, which must throw a HarmoniumError matching `pattern`, and returns the bytes it left allocated. */
function refused(decode: () => unknown, pattern: RegExp): number {
  const before = process.memoryUsage().arrayBuffers;
  assert.throws(decode, (e: unknown) => e instanceof HarmoniumError && pattern.test(e.message));
  return process.memoryUsage().arrayBuffers - before;
}

describe('declared sizes and nesting over the real limits', () => {
  const little = 16 << 20;

  it('a PNG or JPEG that declares more than MAX_IMAGE_PIXELS', () => {
    const png = PNG.sync.write(
      Object.assign(new PNG({ width: 2, height: 2 }), { data: Buffer.alloc(16, 9) }),
    );
    png.writeUInt32BE(65_535, 16);
    png.writeUInt32BE(65_535, 20);
    assert.ok(refused(() => decodeImage(png, 'big.png'), /big\.png: .*65535x65535.*33554432/) < little);

    const jpg = Buffer.from(jpeg.encode({ width: 8, height: 8, data: Buffer.alloc(256, 9) }, 90).data);
    const sof = jpg.indexOf(Buffer.of(0xff, 0xc0));
    jpg.writeUInt16BE(65_535, sof + 5);
    jpg.writeUInt16BE(65_535, sof + 7);
    assert.ok(refused(() => decodeImage(jpg, 'big.jpg'), /big\.jpg: .*maxResolutionInMP/) < little);
    assert.equal(MAX_IMAGE_PIXELS, 2 ** 25);
  });

  it('a PNG whose scanlines could not fit in its compressed data (a bomb)', () => {
    const png = PNG.sync.write(
      Object.assign(new PNG({ width: 4, height: 4 }), { data: Buffer.alloc(64, 0) }),
    );
    png.writeUInt32BE(4096, 16);
    png.writeUInt32BE(4096, 20);
    assert.ok(
      refused(() => decodeImage(png, 'bomb.png'), /bomb\.png: .*4096x4096.*in only \d+ compressed bytes/) <
        little,
    );
  });

  it('a state header whose arrays take more than MAX_STATE_BYTES', () => {
    const n = MAX_STATE_BYTES / 4 + 1;
    const [header] = encodeState(
      {
        modelKind: 'ae',
        hyper: {},
        paramSpecs: [{ name: 'w', shape: [n] }],
        params: new Float32Array(0),
        optimizer: { name: 'sgd', state: {} },
        rng: [1, 2, 3, 4],
        cursor: { epoch: 0, step: 0, imagesSeen: 0 },
        seed: 1,
        config: {},
        modelState: null,
      },
      'job-1',
    );
    const json = header!.headerJson!.replace('"params":0', `"params":${n}`);
    const a = new StateAssembler('worker w-1');
    const part = { part: 'headerJson', headerJson: json } as StatePart__Output;
    assert.ok(
      refused(() => a.add(part), /worker w-1: arrays\["params"\]: takes the state past 2147483648 bytes/) <
        little,
    );
  });

  it('an IDX file whose dimensions claim what its bytes do not hold', () => {
    const bytes = idx([0, 0xffffffff, 0xffffffff], new Uint8Array(0));
    assert.ok(refused(() => parseIdx(bytes, 'x.idx'), /x\.idx: byte offset 4: dimension 0 is 0/) < little);
  });

  it('a job config nested deeper than MAX_SUBMISSION_DEPTH', () => {
    const json = `{"model":"ae","layers":${'['.repeat(5000)}${']'.repeat(5000)}}`;
    assert.throws(
      () => compileSubmission(json),
      (e: unknown) =>
        e instanceof ConfigError &&
        e.field === 'config_json' &&
        new RegExp(`deeper than ${MAX_SUBMISSION_DEPTH}`).test(e.message),
    );
  });

  it('a tar entry whose size field claims petabytes', () => {
    const tar = Buffer.alloc(2048);
    tar.write('huge.bin', 0, 'latin1');
    tar.write('77777777777\0', 124, 'latin1');
    tar.write('ustar\0' + '00', 257, 'latin1');
    tar[156] = 0x30;
    let sum = 0;
    for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 0x20 : tar[i]!;
    tar.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'latin1');
    assert.ok(
      refused(() => [...readTar(tar, 'x.tar')], /x\.tar: .*huge\.bin truncated: expected 8589934591 bytes/) <
        little,
    );
  });
});
