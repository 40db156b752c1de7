import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PNG } from 'pngjs';
import { selectBackend } from '../compute/backend.js';
import type { ImageSet } from '../data/corpus.js';
import { Rng } from '../data/rng.js';
import type { Model, ParamSpec, StepResult } from '../models/model.js';
import { PALETTE, normalQuantile, writePictures } from './pictures.js';

const SHAPE = { height: 6, width: 5, channels: 1 };
const D = 30;

/** 20 images of 6x5 with labels 0..9: a bright column whose position follows the label. */
function testSet(labelled: boolean): ImageSet {
  const count = 20;
  const pixels = new Uint8Array(count * D);
  const labels = Uint8Array.from({ length: count }, (_, i) => i % 10);
  for (let i = 0; i < count; i++) {
    for (let p = 0; p < D; p++) pixels[i * D + p] = p % 5 === labels[i]! % 5 ? 200 + labels[i]! : 10 * i;
  }
  return { name: 'synthetic', shape: SHAPE, count, pixels, labels: labelled ? labels : null };
}

/**
 * A linear model with a sigmoid decoder: code = (x − ½) E, x̂ = σ(code Dec + b). `specs` orders
 * the parameters, which decides whether the first 2-D weight is [inputSize, k] (filters drawn).
 */
function linearModel(
  kind: string,
  k: number,
  encoderFirst: boolean,
  generative: boolean,
): { model: Model; params: Float32Array } {
  const enc: ParamSpec = { name: 'enc', shape: [D, k] };
  const dec: ParamSpec = { name: 'dec', shape: [k, D] };
  const bias: ParamSpec = { name: 'b', shape: [D] };
  const specs = encoderFirst ? [enc, dec, bias] : [dec, enc, bias];
  const encAt = encoderFirst ? 0 : k * D;
  const decAt = encoderFirst ? D * k : 0;
  const bAt = 2 * D * k;
  const params = new Rng(3).fillNormal(new Float32Array(2 * D * k + D), 0, 0.5);
  const encode = (p: Float32Array, x: Float32Array, n: number): Float32Array => {
    const out = new Float32Array(n * k);
    for (let r = 0; r < n; r++) {
      for (let i = 0; i < D; i++)
        for (let j = 0; j < k; j++) out[r * k + j]! += (x[r * D + i]! - 0.5) * p[encAt + i * k + j]!;
    }
    return out;
  };
  const decode = (p: Float32Array, z: Float32Array, n: number): Float32Array => {
    const out = new Float32Array(n * D);
    for (let r = 0; r < n; r++) {
      for (let i = 0; i < D; i++) {
        let s = p[bAt + i]!;
        for (let j = 0; j < k; j++) s += z[r * k + j]! * p[decAt + j * D + i]!;
        out[r * D + i] = 1 / (1 + Math.exp(-s));
      }
    }
    return out;
  };
  const model: Model = {
    kind,
    inputSize: D,
    codeSize: k,
    paramSpecs: specs,
    hyper: {},
    init: () => params.slice(),
    step: (): StepResult => {
      throw new Error('the test model is not trained');
    },
    encode,
    decode,
    reconstruct: (p, x, n) => decode(p, encode(p, x, n), n),
    ...(generative
      ? {
          sample: (p: Float32Array, n: number, rng: Rng) =>
            decode(p, rng.fillNormal(new Float32Array(n * k)), n),
        }
      : {}),
  };
  return { model, params };
}

const dirs: string[] = [];
before(async () => {
  await selectBackend('cpu');
});
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'harmonium-pictures-'));
  dirs.push(d);
  return d;
}

async function readPng(path: string): Promise<PNG> {
  return PNG.sync.read(await readFile(path));
}

function rgb(png: PNG, x: number, y: number): number[] {
  const o = (y * png.width + x) * 4;
  return [...png.data.subarray(o, o + 3)];
}

/** Grey level a tile pixel of value v in [0, 1] is drawn with. */
const grey = (v: number): number[] => new Array<number>(3).fill(Math.round(255 * v));

/** Top-left pixel of tile (row, col) in a grid of 5x6 tiles with 1-px separators. */
const tileOrigin = (row: number, col: number): [number, number] => [1 + col * 6, 1 + row * 7];

describe('normalQuantile', () => {
  it('inverts the standard normal CDF', () => {
    assert.equal(normalQuantile(0.5), 0);
    assert.ok(Math.abs(normalQuantile(0.975) - 1.959963985) < 1e-8);
    assert.ok(Math.abs(normalQuantile(0.01) + 2.326347874) < 1e-8);
    assert.ok(Math.abs(normalQuantile(1e-6) + 4.753424309) < 1e-7);
    assert.throws(() => normalQuantile(1), /\(0, 1\)/);
  });
});

describe('writePictures', () => {
  it('draws all eight pictures for a generative 2-D VAE-like model', async () => {
    const dir = await tempDir();
    const test = testSet(true);
    const { model, params } = linearModel('vae', 2, true, true);
    const files = await writePictures(model, params, { test, outDir: join(dir, 'pics'), rng: new Rng(9) });
    assert.deepEqual(
      files.map((f) => f.file),
      [
        'reconstructions.png',
        'samples.png',
        'filters.png',
        'latent-scatter.png',
        'manifold.png',
        'interpolation.png',
        'latent-arithmetic.png',
        'codes-vs-pca.png',
      ],
    );
    assert.deepEqual((await readdir(join(dir, 'pics'))).sort(), files.map((f) => f.file).sort());
    for (const f of files) assert.ok(f.description.length > 10 && !f.description.includes('\n'));
    const x = Float32Array.from(test.pixels, (v) => v / 255);

    // 10 columns; 2 input rows each followed by its reconstruction row.
    const rec = await readPng(files[0]!.path);
    assert.deepEqual([rec.width, rec.height], [10 * 5 + 11, 4 * 6 + 5]);
    const recon = model.reconstruct!(params, x, 20);
    assert.deepEqual(rgb(rec, ...tileOrigin(0, 3)), grey(x[3 * D]!));
    assert.deepEqual(rgb(rec, ...tileOrigin(1, 3)), grey(recon[3 * D]!));
    assert.deepEqual(rgb(rec, ...tileOrigin(2, 0)), grey(x[10 * D]!));
    assert.deepEqual(rgb(rec, ...tileOrigin(3, 0)), grey(recon[10 * D]!));

    const samples = await readPng(files[1]!.path);
    assert.deepEqual([samples.width, samples.height], [61, 71]);

    // Two filters (columns of enc), each stretched: its largest weight white, smallest black.
    const filters = await readPng(files[2]!.path);
    assert.deepEqual([filters.width, filters.height], [13, 8]);
    const w = Array.from({ length: D }, (_, i) => params[i * 2 + 1]!);
    const argmax = w.indexOf(Math.max(...w));
    const argmin = w.indexOf(Math.min(...w));
    assert.deepEqual(rgb(filters, 7 + (argmax % 5), 1 + Math.floor(argmax / 5)), [255, 255, 255]);
    assert.deepEqual(rgb(filters, 7 + (argmin % 5), 1 + Math.floor(argmin / 5)), [0, 0, 0]);

    // Every class colour appears among the points, and the legend lists them in order.
    const scatter = await readPng(files[3]!.path);
    assert.deepEqual([scatter.width, scatter.height], [480 + 24 + 40, 480 + 24]);
    const seen = new Set<string>();
    for (let y = 12; y < 492; y++) for (let xx = 12; xx < 492; xx++) seen.add(rgb(scatter, xx, y).join());
    for (const c of PALETTE) assert.ok(seen.has(c.join()), `colour ${c.join()} plotted`);
    for (let c = 0; c < 10; c++) assert.deepEqual(rgb(scatter, 504 + 4, 16 + c * 14 + 4), [...PALETTE[c]!]);
    assert.match(files[3]!.description, /^2-D codes of 20 test images, coloured by label/);

    // PCA of the pixels beside the codes, as Hinton & Salakhutdinov's Fig. 3; both panels hold every class.
    const besides = await readPng(files[7]!.path);
    assert.deepEqual([besides.width, besides.height], [2 * (480 + 24) + 40, 480 + 24]);
    for (const left of [12, 504 + 12]) {
      const colours = new Set<string>();
      for (let y = 12; y < 492; y++)
        for (let xx = left; xx < left + 480; xx++) colours.add(rgb(besides, xx, y).join());
      for (const c of PALETTE)
        assert.ok(colours.has(c.join()), `colour ${c.join()} in the panel at x=${left}`);
    }
    assert.match(files[7]!.description, /^left: the first two principal components of 20 test images/);

    // 15 x 15 decodes; the top-left one is the decode of the (low z1, high z2) prior quantile.
    const manifold = await readPng(files[4]!.path);
    assert.deepEqual([manifold.width, manifold.height], [15 * 5 + 16, 15 * 6 + 16]);
    const corner = model.decode(
      params,
      Float32Array.from([normalQuantile(0.5 / 15), normalQuantile(14.5 / 15)]),
      1,
    );
    assert.deepEqual(rgb(manifold, 1, 1), grey(corner[0]!));
    assert.deepEqual(rgb(manifold, 3, 4), grey(corner[3 * 5 + 2]!));

    // Each row: a test image, 10 decodes starting at its reconstruction, another test image.
    const interp = await readPng(files[5]!.path);
    assert.deepEqual([interp.width, interp.height], [12 * 5 + 13, 4 * 6 + 5]);
    for (let row = 0; row < 4; row++) {
      const tile = (col: number): number[] => {
        const [ox, oy] = tileOrigin(row, col);
        return Array.from({ length: D }, (_, p) => rgb(interp, ox + (p % 5), oy + Math.floor(p / 5))[0]!);
      };
      const first = tile(0);
      const index = Array.from({ length: 20 }, (_, i) => i).find((i) =>
        first.every((v, p) => v === Math.round(255 * x[i * D + p]!)),
      );
      assert.ok(index !== undefined, `row ${row} starts with a test image`);
      assert.deepEqual(
        tile(1),
        Array.from(recon.subarray(index * D, (index + 1) * D), (v) => Math.round(255 * v)),
      );
      assert.ok(
        test.pixels.length > 0 && tile(11).some((v, p) => v !== first[p]),
        `row ${row} ends elsewhere`,
      );
    }
  });

  it('draws only what applies to an unlabelled, non-generative model with a 3-D code', async () => {
    const dir = await tempDir();
    const { model, params } = linearModel('ae', 3, false, false);
    const files = await writePictures(model, params, {
      test: testSet(false),
      outDir: dir,
      rng: new Rng(1),
      maxScatter: 15,
    });
    assert.deepEqual(
      files.map((f) => f.file),
      ['reconstructions.png', 'latent-scatter.png', 'interpolation.png'],
    );
    assert.match(
      files[1]!.description,
      /first two principal components of the 3-D codes of 15 test images, unlabelled/,
    );
    const scatter = await readPng(files[1]!.path);
    assert.deepEqual([scatter.width, scatter.height], [504, 504]);
    let points = 0;
    for (let i = 0; i < scatter.data.length; i += 4) if (scatter.data[i] === PALETTE[0]![0]) points++;
    assert.ok(points >= 15, `${points} point pixels`);
  });

  it('rejects a model whose input size does not match the images', async () => {
    const { model, params } = linearModel('ae', 2, true, false);
    const test: ImageSet = { ...testSet(true), shape: { height: 5, width: 5, channels: 1 }, count: 2 };
    await assert.rejects(
      writePictures(model, params, { test, outDir: await tempDir(), rng: new Rng(0) }),
      /25/,
    );
  });
});
