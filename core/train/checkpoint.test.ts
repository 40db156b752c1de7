import assert from 'node:assert/strict';
import {
  cp,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  rename,
  rm,
  truncate,
  unlink,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { selectBackend } from '../compute/backend.js';
import { tf } from '../compute/tf.js';
import { Rng } from '../data/rng.js';
import { CheckpointError } from '../errors.js';
import { flatLength, type ParamSpec } from '../models/model.js';
import { Adam } from './adam.js';
import {
  assertCheckpointFits,
  readCheckpoint,
  writeCheckpoint,
  type CheckpointData,
  type WriteCheckpointOptions,
} from './checkpoint.js';

const SPECS: ParamSpec[] = [
  { name: 'encoder/w', shape: [6, 4] },
  { name: 'encoder/b', shape: [4] },
  { name: 'decoder/w', shape: [4, 6] },
  { name: 'scale', shape: [] },
];

let root: string;
before(async () => {
  root = await mkdtemp(join(tmpdir(), 'harmonium-ckpt-'));
  // Through the project's selector, which also silences tfjs's "install tfjs-node" banner.
  await selectBackend('cpu');
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

function makeData(seed: number, withState = true): CheckpointData {
  const rng = new Rng(seed);
  const params = rng.fillNormal(new Float32Array(flatLength(SPECS)));
  // Values whose bits a lossy path (JSON, float64 rounding of text) would change.
  params[0] = -0;
  params[1] = 1 / 3;
  params[2] = 3.4028234663852886e38;
  const opt = new Adam(params.length);
  opt.step(params.slice(), rng.fillNormal(new Float32Array(params.length)), 0.01);
  return {
    modelKind: 'ae',
    hyper: { hidden: [4], activation: 'sigmoid' },
    paramSpecs: SPECS,
    params,
    optimizer: { name: opt.name, state: opt.state() },
    rng: rng.state(),
    cursor: { epoch: 2, step: 123, imagesSeen: 123 * 64 },
    seed,
    config: { model: 'ae', lr: 0.01, nested: { a: [1, 2] } },
    modelState: withState ? rng.fillUniform(new Float32Array(10)) : null,
  };
}

const bits = (a: Float32Array): Buffer => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
const fixedClock: WriteCheckpointOptions = { now: () => new Date('2024-05-06T07:08:09.000Z') };

async function siblingsOf(dir: string): Promise<string[]> {
  const base = dir.slice(dir.lastIndexOf('/') + 1);
  return (await readdir(join(dir, '..'))).filter((n) => n.startsWith(base + '.'));
}

test('roundtrip is bit-exact and the layout is as documented', async () => {
  const dir = join(root, 'roundtrip', 'checkpoint');
  const data = makeData(1);
  await writeCheckpoint(dir, data, fixedClock);
  assert.deepEqual((await readdir(dir)).sort(), [
    'checkpoint.json',
    'optimizer.bin',
    'state.bin',
    'weights.bin',
    'weights.json',
  ]);
  const ckpt = await readCheckpoint(dir);
  assert.deepEqual(bits(ckpt.params), bits(data.params));
  assert.deepEqual(bits(ckpt.modelState!), bits(data.modelState!));
  assert.equal(ckpt.optimizer.name, 'adam');
  assert.deepEqual(Object.keys(ckpt.optimizer.state).sort(), ['m', 't', 'v']);
  assert.equal(ckpt.optimizer.state['t'], 1);
  for (const k of ['m', 'v']) {
    assert.deepEqual(
      bits(ckpt.optimizer.state[k] as Float32Array),
      bits(data.optimizer.state[k] as Float32Array),
    );
  }
  assert.deepEqual(
    [ckpt.modelKind, ckpt.hyper, ckpt.paramSpecs, ckpt.rng, ckpt.cursor, ckpt.seed, ckpt.config],
    [data.modelKind, data.hyper, data.paramSpecs, data.rng, data.cursor, data.seed, data.config],
  );
  assert.equal(ckpt.createdAt, '2024-05-06T07:08:09.000Z');

  const json = JSON.parse(await readFile(join(dir, 'checkpoint.json'), 'utf8')) as Record<string, unknown>;
  assert.equal(json['format'], 'harmonium-checkpoint');
  assert.equal(json['version'], 1);

  // A fresh optimizer loaded from the checkpoint continues like the original.
  const restored = new Adam(data.params.length);
  restored.loadState(ckpt.optimizer.state);
  assert.deepEqual(
    bits(restored.state()['v'] as Float32Array),
    bits(data.optimizer.state['v'] as Float32Array),
  );
});

test('without model state there is no state.bin', async () => {
  const dir = join(root, 'nostate');
  await writeCheckpoint(dir, makeData(2, false));
  assert.ok(!(await readdir(dir)).includes('state.bin'));
  assert.equal((await readCheckpoint(dir)).modelState, null);
});

test('plain TensorFlow.js decodes weights.bin with weights.json', async () => {
  const dir = join(root, 'tfjs');
  const data = makeData(3);
  await writeCheckpoint(dir, data);
  const manifest = JSON.parse(
    await readFile(join(dir, 'weights.json'), 'utf8'),
  ) as tf.io.WeightsManifestConfig;
  assert.deepEqual(manifest, [
    {
      paths: ['weights.bin'],
      weights: SPECS.map((s) => ({ name: s.name, shape: s.shape, dtype: 'float32' })),
    },
  ]);
  const file = await readFile(join(dir, 'weights.bin'));
  const inputs: [string, tf.io.WeightData][] = [
    // What a TypeScript caller passes (tfjs types ask for an ArrayBuffer)...
    ['ArrayBuffer', file.buffer.slice(file.byteOffset, file.byteOffset + file.byteLength)],
    // ...and what a JavaScript caller passes straight from readFileSync, which tfjs accepts too.
    ['Buffer', file as unknown as ArrayBuffer],
  ];
  for (const [label, input] of inputs) {
    const tensors = tf.io.decodeWeights(input, manifest[0]!.weights);
    let offset = 0;
    for (const s of SPECS) {
      const t = tensors[s.name]!;
      assert.deepEqual(t.shape, s.shape, `${label} ${s.name}`);
      assert.equal(t.dtype, 'float32');
      const values = t.dataSync() as Float32Array;
      assert.deepEqual(
        bits(values),
        bits(data.params.subarray(offset, offset + values.length)),
        `${label} ${s.name}`,
      );
      offset += values.length;
    }
    assert.equal(offset, data.params.length);
    tf.dispose(Object.values(tensors));
  }
});

test('a second write replaces the first and leaves no temporary directories', async () => {
  const dir = join(root, 'replace');
  await writeCheckpoint(dir, makeData(4));
  const second = makeData(5);
  await writeCheckpoint(dir, second);
  assert.deepEqual(bits((await readCheckpoint(dir)).params), bits(second.params));
  assert.deepEqual(await siblingsOf(dir), []);
});

test('a write that fails midway leaves the old checkpoint intact', async () => {
  const dir = join(root, 'failing');
  const first = makeData(6);
  await writeCheckpoint(dir, first);
  const written: string[] = [];
  const failing: WriteCheckpointOptions = {
    writeFile: async (path, chunks) => {
      if (path.endsWith('optimizer.bin')) throw Object.assign(new Error('disk full'), { code: 'ENOSPC' });
      written.push(path);
      await writeFile(path, Buffer.concat(chunks));
    },
  };
  await assert.rejects(
    writeCheckpoint(dir, makeData(7), failing),
    (e: unknown) => e instanceof CheckpointError && e.code === 'IO' && /disk full/.test(e.message),
  );
  // The failure came after real files had been written into the temporary directory.
  assert.ok(written.some((p) => p.endsWith('weights.bin')));
  assert.deepEqual(bits((await readCheckpoint(dir)).params), bits(first.params));
  assert.deepEqual(await siblingsOf(dir), []);
});

test('a leftover temporary directory is ignored by reads and removed by the next write', async () => {
  const dir = join(root, 'leftover');
  const first = makeData(8);
  await writeCheckpoint(dir, first);
  const stale = `${dir}.tmp-99999-deadbeef`;
  await mkdir(stale);
  await writeFile(join(stale, 'weights.bin'), 'half written');
  assert.deepEqual(bits((await readCheckpoint(dir)).params), bits(first.params));
  assert.deepEqual(await siblingsOf(dir), ['leftover.tmp-99999-deadbeef']);
  await writeCheckpoint(dir, makeData(9));
  assert.deepEqual(await siblingsOf(dir), []);
});

test('a crash between the two renames is recovered from the .old directory', async () => {
  const dir = join(root, 'between');
  const first = makeData(10);
  await writeCheckpoint(dir, first);
  await rename(dir, `${dir}.old-4242-cafe0000`);
  await mkdir(`${dir}.tmp-4242-cafe0000`);
  const ckpt = await readCheckpoint(dir);
  assert.deepEqual(bits(ckpt.params), bits(first.params));
  assert.deepEqual(await siblingsOf(dir), ['between.tmp-4242-cafe0000']);
});

test('inconsistent data is refused before anything is written', async () => {
  const dir = join(root, 'refused');
  const data = { ...makeData(11), params: new Float32Array(3) };
  await assert.rejects(
    writeCheckpoint(dir, data),
    (e: unknown) =>
      e instanceof CheckpointError && e.code === 'CHECKPOINT_INVALID' && /params/.test(e.message),
  );
  await assert.rejects(readdir(dir), { code: 'ENOENT' });
});

type Corruption = (dir: string) => Promise<void>;

async function editJson(dir: string, edit: (json: Record<string, unknown>) => void): Promise<void> {
  const path = join(dir, 'checkpoint.json');
  const json = JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>;
  edit(json);
  await writeFile(path, JSON.stringify(json));
}

async function flipByte(path: string, at: number): Promise<void> {
  const buf = await readFile(path);
  buf[at] = buf[at]! ^ 0xff;
  await writeFile(path, buf);
}

const CORRUPTIONS: [string, Corruption, string, RegExp][] = [
  ['checkpoint.json missing', (d) => unlink(join(d, 'checkpoint.json')), 'checkpoint.json', /missing/],
  [
    'checkpoint.json not JSON',
    (d) => writeFile(join(d, 'checkpoint.json'), '{"format": '),
    'checkpoint.json',
    /JSON/,
  ],
  ['wrong format', (d) => editJson(d, (j) => (j['format'] = 'other')), 'checkpoint.json', /format/],
  ['wrong version', (d) => editJson(d, (j) => (j['version'] = 2)), 'checkpoint.json', /version/],
  [
    'bad cursor',
    (d) => editJson(d, (j) => ((j['cursor'] as { step: number }).step = -1)),
    'checkpoint.json',
    /cursor\.step/,
  ],
  ['short rng', (d) => editJson(d, (j) => (j['rng'] = [1, 2, 3])), 'checkpoint.json', /rng/],
  ['weights.bin missing', (d) => unlink(join(d, 'weights.bin')), 'weights.bin', /missing/],
  ['weights.bin flipped', (d) => flipByte(join(d, 'weights.bin'), 17), 'weights.bin', /sha256/],
  [
    'optimizer.bin short',
    (d) => truncate(join(d, 'optimizer.bin'), 8),
    'optimizer.bin',
    /8 bytes.*optimizer\.arrays/,
  ],
  ['state.bin missing', (d) => unlink(join(d, 'state.bin')), 'state.bin', /missing/],
  [
    'weights.json edited',
    async (d) => {
      const path = join(d, 'weights.json');
      await writeFile(path, (await readFile(path, 'utf8')).replace('float32', 'float16'));
    },
    'weights.json',
    /sha256/,
  ],
  [
    'specs grown',
    (d) => editJson(d, (j) => ((j['paramSpecs'] as ParamSpec[])[0] = { name: 'encoder/w', shape: [7, 4] })),
    'weights.bin',
    /paramSpecs need 228/,
  ],
  [
    'weights.json edited, hash updated',
    async (d) => {
      const text = JSON.stringify([
        { paths: ['weights.bin'], weights: [{ name: 'x', shape: [1], dtype: 'float32' }] },
      ]);
      await writeFile(join(d, 'weights.json'), text);
      const { createHash } = await import('node:crypto');
      await editJson(d, (j) => {
        (j['files'] as Record<string, { bytes: number; sha256: string }>)['weights.json'] = {
          bytes: Buffer.byteLength(text),
          sha256: createHash('sha256').update(text).digest('hex'),
        };
      });
    },
    'weights.json',
    /\[0\]\.weights/,
  ],
  ['directory missing', (d) => rm(d, { recursive: true }), 'corrupt-', /no checkpoint here/],
];

test('every corruption is CHECKPOINT_INVALID naming the file and what is wrong', async () => {
  const base = join(root, 'pristine');
  await writeCheckpoint(base, makeData(12));
  await readCheckpoint(base);
  for (const [i, [label, corrupt, file, what]] of CORRUPTIONS.entries()) {
    const dir = join(root, `corrupt-${i}`);
    await cp(base, dir, { recursive: true });
    await corrupt(dir);
    await assert.rejects(
      readCheckpoint(dir),
      (e: unknown) => {
        assert.ok(e instanceof CheckpointError, `${label}: ${String(e)}`);
        assert.equal(e.code, 'CHECKPOINT_INVALID', label);
        assert.ok(e.message.includes(file) && what.test(e.message), `${label}: ${e.message}`);
        return true;
      },
      label,
    );
  }
});

test('assertCheckpointFits checks kind, specs and optimizer', async () => {
  const dir = join(root, 'fits');
  await writeCheckpoint(dir, makeData(13));
  const ckpt = await readCheckpoint(dir);
  assertCheckpointFits(ckpt, { kind: 'ae', paramSpecs: SPECS, optimizer: 'adam' });
  const fails = (expected: Parameters<typeof assertCheckpointFits>[1], word: RegExp): void =>
    assert.throws(
      () => assertCheckpointFits(ckpt, expected),
      (e: unknown) => e instanceof CheckpointError && e.code === 'CHECKPOINT_INVALID' && word.test(e.message),
    );
  fails({ kind: 'vae', paramSpecs: SPECS }, /"vae"/);
  fails({ kind: 'ae', paramSpecs: SPECS.slice(1) }, /3/);
  fails({ kind: 'ae', paramSpecs: [{ name: 'encoder/w', shape: [4, 6] }, ...SPECS.slice(1)] }, /encoder\/w/);
  fails({ kind: 'ae', paramSpecs: SPECS, optimizer: 'sgd' }, /"sgd"/);
});
