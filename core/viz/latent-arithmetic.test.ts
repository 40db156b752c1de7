import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PNG } from 'pngjs';
import { selectBackend } from '../compute/backend.js';
import type { ImageSet } from '../data/corpus.js';
import { gatherBatch } from '../data/corpus.js';
import { Rng } from '../data/rng.js';
import type { FeatureClassifier } from '../eval/feature-classifier.js';
import type { Model, StepResult } from '../models/model.js';
import type { ArithmeticTriple } from './latent-arithmetic.js';
import {
  FASHION_MNIST_TRIPLES,
  chooseTriples,
  equationLayout,
  generatedArithmetic,
  latentArithmetic,
  latentArithmeticPicture,
} from './latent-arithmetic.js';
import { writePictures } from './pictures.js';

const SHAPE = { height: 6, width: 5, channels: 1 };
const D = 30;
const K = 2;

/** `count` 6x5 images labelled `label(i)`; the brightness pattern depends on the label and the index. */
function testSet(count: number, label: ((i: number) => number) | null, name = 'synthetic'): ImageSet {
  const labels = Uint8Array.from({ length: count }, (_, i) => (label ? label(i) : 0));
  const pixels = new Uint8Array(count * D);
  for (let i = 0; i < count; i++) {
    for (let p = 0; p < D; p++) pixels[i * D + p] = (37 * labels[i]! + 11 * p + 5 * i) % 256;
  }
  return { name, shape: SHAPE, count, pixels, labels: label ? labels : null };
}

/** An affine model with known weights: code = x W, x̂ = code V + ½ (no squashing). */
function linearModel(kind = 'ae', k = K): Model {
  const w = (i: number, j: number): number => (((i * 7 + j * 3) % 5) - 2) / 30;
  const v = (j: number, i: number): number => (((i + 2 * j) % 3) - 1) * 0.2;
  const encode = (_p: Float32Array, x: Float32Array, n: number): Float32Array => {
    const out = new Float32Array(n * k);
    for (let r = 0; r < n; r++) {
      for (let j = 0; j < k; j++) {
        let s = 0;
        for (let i = 0; i < D; i++) s += x[r * D + i]! * w(i, j);
        out[r * k + j] = s;
      }
    }
    return out;
  };
  const decode = (_p: Float32Array, z: Float32Array, n: number): Float32Array => {
    const out = new Float32Array(n * D);
    for (let r = 0; r < n; r++) {
      for (let i = 0; i < D; i++) {
        let s = 0.5;
        for (let j = 0; j < k; j++) s += z[r * k + j]! * v(j, i);
        out[r * D + i] = s;
      }
    }
    return out;
  };
  return {
    kind,
    inputSize: D,
    codeSize: k,
    paramSpecs: [],
    hyper: {},
    init: () => new Float32Array(0),
    step: (): StepResult => {
      throw new Error('the test model is not trained');
    },
    encode,
    decode,
    reconstruct: (p, x, n) => (k > 0 ? decode(p, encode(p, x, n), n) : x.slice(0, n * D)),
  };
}

const PARAMS = new Float32Array(0);

const dirs: string[] = [];
before(async () => {
  await selectBackend('native', { threads: 1 });
});
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'harmonium-arithmetic-'));
  dirs.push(d);
  return d;
}

describe('chooseTriples', () => {
  it("takes Fashion-MNIST's triples, keeping those whose classes are present", () => {
    const all = Array.from({ length: 10 }, (_, c) => c);
    assert.deepEqual(chooseTriples(all, 'fashion-mnist/test'), FASHION_MNIST_TRIPLES);
    assert.deepEqual(FASHION_MNIST_TRIPLES[0], { a: 9, b: 7, c: 5 });
    // No sandals: the two shoe rows go, the clothes rows stay.
    assert.deepEqual(
      chooseTriples(
        all.filter((c) => c !== 5),
        'fashion-mnist/test',
      ),
      [
        { a: 2, b: 0, c: 3 },
        { a: 0, b: 2, c: 4 },
        { a: 3, b: 0, c: 2 },
      ],
    );
    // Only bags and trousers: no Fashion-MNIST triple applies, the generic rule does.
    assert.deepEqual(chooseTriples([8, 1, 1], 'fashion-mnist/test'), [
      { a: 1, b: 8, c: 1 },
      { a: 8, b: 1, c: 8 },
    ]);
  });

  it('derives triples of consecutive classes, spread over them, for any other label set', () => {
    const ten = Array.from({ length: 10 }, (_, c) => c);
    assert.deepEqual(chooseTriples(ten, 'mnist'), [
      { a: 0, b: 1, c: 2 },
      { a: 2, b: 3, c: 4 },
      { a: 4, b: 5, c: 6 },
      { a: 6, b: 7, c: 8 },
      { a: 8, b: 9, c: 0 },
    ]);
    assert.deepEqual(chooseTriples([11, 3, 7, 3], 'images:/data/cats'), [
      { a: 3, b: 7, c: 11 },
      { a: 7, b: 11, c: 3 },
      { a: 11, b: 3, c: 7 },
    ]);
    assert.deepEqual(chooseTriples([4, 1, 4], 'x'), [
      { a: 1, b: 4, c: 1 },
      { a: 4, b: 1, c: 4 },
    ]);
    assert.equal(
      chooseTriples(
        Array.from({ length: 100 }, (_, c) => 99 - c),
        'x',
      ).at(-1)!.a,
      80,
    );
    assert.deepEqual(chooseTriples([6, 6, 6], 'x'), []);
    assert.deepEqual(chooseTriples([], 'fashion-mnist/test'), []);
  });
});

describe('latentArithmetic', () => {
  it('decodes mean A − mean B + code C, with mean codes over the first images of each class', () => {
    const test = testSet(40, (i) => i % 4);
    const model = linearModel();
    const result = latentArithmetic(model, PARAMS, test, new Rng(5), { batchSize: 3, perClass: 7 });
    assert.ok(result);
    const { triples, picks, tiles } = result;
    assert.deepEqual(triples, chooseTriples([0, 1, 2, 3], 'synthetic'));
    const rows = triples.length;
    assert.equal(rows, 4);
    assert.equal(tiles.length, 4 * rows * D);
    for (const cls of [0, 1, 2, 3]) assert.equal(result.meanCounts.get(cls), 7);

    const codes = model.encode!(PARAMS, gatherBatch(test, [...Array(40).keys()]), 40);
    const mean = (cls: number): Float64Array => {
      const members = [...Array(40).keys()].filter((i) => test.labels![i] === cls).slice(0, 7);
      const m = new Float64Array(K);
      for (const i of members) for (let j = 0; j < K; j++) m[j]! += codes[i * K + j]!;
      return m.map((s) => s / members.length);
    };
    const tile = (r: number, col: number): Float32Array =>
      tiles.subarray((4 * r + col) * D, (4 * r + col + 1) * D);
    for (let r = 0; r < rows; r++) {
      const t: ArithmeticTriple = triples[r]!;
      const a: number = t.a;
      const b: number = t.b;
      const c: number = t.c;
      const pick: number = picks[r]!;
      assert.equal(test.labels![pick], c, `row ${r} picks an image of class ${c}`);
      const codeC = codes.subarray(pick * K, (pick + 1) * K);
      const meanA: Float64Array = mean(a);
      const meanB: Float64Array = mean(b);
      const z: Float32Array = Float32Array.from({ length: K }, (_, j) => meanA[j]! - meanB[j]! + codeC[j]!);
      assert.deepEqual(tile(r, 3), model.decode(PARAMS, z, 1));
      assert.deepEqual(tile(r, 0), model.decode(PARAMS, Float32Array.from(meanA), 1));
      assert.deepEqual(tile(r, 1), model.decode(PARAMS, Float32Array.from(meanB), 1));
      assert.deepEqual(tile(r, 2), model.reconstruct!(PARAMS, gatherBatch(test, [pick]), 1));
      // The decoder is affine, so the result is also decode(mean A) − decode(mean B) + decode(code C).
      for (let p = 0; p < D; p++) {
        const sum = tile(r, 0)[p]! - tile(r, 1)[p]! + tile(r, 2)[p]!;
        assert.ok(Math.abs(tile(r, 3)[p]! - sum) < 1e-5, `row ${r} pixel ${p}`);
      }
    }
  });

  it('is null without labels, without a code or with a single class', () => {
    assert.equal(latentArithmetic(linearModel(), PARAMS, testSet(20, null), new Rng(1)), null);
    assert.equal(
      latentArithmetic(
        linearModel('ae', 0),
        PARAMS,
        testSet(20, (i) => i % 3),
        new Rng(1),
      ),
      null,
    );
    assert.equal(
      latentArithmetic(
        linearModel(),
        PARAMS,
        testSet(20, () => 4),
        new Rng(1),
      ),
      null,
    );
  });

  it('names Fashion-MNIST classes in the description', () => {
    const test = testSet(60, (i) => i % 10, 'fashion-mnist/test');
    const picture = latentArithmeticPicture(linearModel('vae'), PARAMS, test, new Rng(2));
    assert.ok(picture);
    assert.ok(!picture.description.includes('\n'));
    assert.match(picture.description, /^5 rows of arithmetic on codes/);
    assert.match(picture.description, /up to 500 test images per class/);
    assert.match(
      picture.description,
      /9 Ankle boot - 7 Sneaker \+ 5 Sandal; 5 Sandal - 7 Sneaker \+ 9 Ankle boot;/,
    );
    const other = latentArithmeticPicture(linearModel('vae'), PARAMS, { ...test, name: 'mnist' }, new Rng(2));
    assert.match(other!.description, /rows A - B \+ C: 0 - 1 \+ 2; 2 - 3 \+ 4;/);
  });
});

describe('generatedArithmetic', () => {
  /** A "generator" of 1 x 2 images, pixel j = sigmoid(z_j), with a standard-normal prior. */
  const generator: Model = {
    kind: 'gan',
    inputSize: 2,
    codeSize: 2,
    paramSpecs: [],
    hyper: {},
    init: () => new Float32Array(0),
    step: (): StepResult => {
      throw new Error('not trained');
    },
    decode: (_p, z, n) => Float32Array.from(z.subarray(0, 2 * n), (v) => 1 / (1 + Math.exp(-v))),
    priorCodes: (n, rng) => rng.fillNormal(new Float32Array(2 * n)),
  };
  /** Class = (pixel 0 > ½) + 2 (pixel 1 > ½), confident only when both pixels are far from ½. */
  const classifier: FeatureClassifier = {
    inputSize: 2,
    featureSize: 2,
    classes: 4,
    describe: 'quadrants',
    layers: [],
    features: (x) => x.slice(),
    probabilities: (x, n) => {
      const out = new Float32Array(4 * n);
      for (let i = 0; i < n; i++) {
        const cls = (x[2 * i]! > 0.5 ? 1 : 0) + (x[2 * i + 1]! > 0.5 ? 2 : 0);
        const sure = Math.abs(x[2 * i]! - 0.5) > 0.1 && Math.abs(x[2 * i + 1]! - 0.5) > 0.1;
        out.fill(sure ? 0.02 : 0.25, 4 * i, 4 * i + 4);
        out[4 * i + cls] = sure ? 0.94 : 0.25;
      }
      return out;
    },
    accuracy: () => 1,
  };
  const classOf = (z: ArrayLike<number>, at: number): number =>
    (z[at]! > 0 ? 1 : 0) + (z[at + 1]! > 0 ? 2 : 0);
  const sure = (z: ArrayLike<number>, at: number): boolean =>
    Math.abs(1 / (1 + Math.exp(-z[at]!)) - 0.5) > 0.1 &&
    Math.abs(1 / (1 + Math.exp(-z[at + 1]!)) - 0.5) > 0.1;

  it('averages the prior codes the classifier is sure of, per predicted class, and decodes the sums', () => {
    const result = generatedArithmetic(generator, new Float32Array(0), classifier, 'synthetic', new Rng(5), {
      pool: 400,
      perClass: 30,
    })!;
    assert.deepEqual(result.triples, chooseTriples([0, 1, 2, 3], 'synthetic'));
    // The same prior draw the function made, then its picks.
    const codes = generator.priorCodes!(400, new Rng(5));
    const confident = (cls: number): number[] =>
      Array.from({ length: 400 }, (_, i) => i).filter(
        (i) => sure(codes, 2 * i) && classOf(codes, 2 * i) === cls,
      );
    const mean = (cls: number): number[] => {
      const members = confident(cls).slice(0, 30);
      return [0, 1].map((j) => members.reduce((a, i) => a + codes[2 * i + j]!, 0) / members.length);
    };
    for (const [r, t] of result.triples.entries()) {
      assert.equal(result.meanCounts.get(t.a), 30);
      const pick = result.picks[r]!;
      assert.ok(confident(t.c).includes(pick), `pick ${pick} is a confident class-${t.c} code`);
      const z = [0, 1].map((j) => mean(t.a)[j]! - mean(t.b)[j]! + codes[2 * pick + j]!);
      const want = generator.decode(new Float32Array(0), Float32Array.from(z), 1);
      const got = result.tiles.subarray((4 * r + 3) * 2, (4 * r + 4) * 2);
      for (let j = 0; j < 2; j++) assert.ok(Math.abs(got[j]! - want[j]!) < 1e-6, `row ${r}`);
    }
  });

  it('is null without a prior or when the classifier is never sure enough', () => {
    const rng = (): Rng => new Rng(1);
    const noPrior: Model = { ...generator, priorCodes: undefined };
    assert.equal(generatedArithmetic(noPrior, new Float32Array(0), classifier, 'synthetic', rng()), null);
    const unsure = generatedArithmetic(generator, new Float32Array(0), classifier, 'synthetic', rng(), {
      confidence: 0.95,
    });
    assert.equal(unsure, null);
  });
});

describe('latent-arithmetic.png', () => {
  async function read(path: string): Promise<PNG> {
    return PNG.sync.read(await readFile(path));
  }
  const rgb = (png: PNG, x: number, y: number): number[] => {
    const o = (y * png.width + x) * 4;
    return [...png.data.subarray(o, o + 3)];
  };
  const grey = (v: number): number[] =>
    new Array<number>(3).fill(Math.round(255 * Math.min(1, Math.max(0, v))));

  it('is written by writePictures for a labelled set and a model with a code, as equations', async () => {
    const dir = await tempDir();
    const test = testSet(40, (i) => i % 4);
    const model = linearModel('ae');
    const files = await writePictures(model, PARAMS, { test, outDir: dir, rng: new Rng(9) });
    const file = files.find((f) => f.file === 'latent-arithmetic.png')!;
    assert.equal(file.path, join(dir, 'latent-arithmetic.png'));
    const png = await read(file.path);
    // 4 rows; 5x6 tiles, 3-pixel signs in 7-pixel gaps, 2 pixels around and between rows.
    assert.deepEqual([png.width, png.height], [2 + 4 * 5 + 3 * 7 + 2, 2 + 4 * (6 + 2)]);
    const layout = equationLayout(SHAPE, 4);
    assert.deepEqual([layout.width, layout.height, layout.glyph], [png.width, png.height, 3]);

    // The same rng, in the same state as writePictures left it before this picture, gives the same rows.
    const rng = new Rng(9);
    await writePictures(model, PARAMS, { test: { ...test, labels: null }, outDir: await tempDir(), rng });
    const expected = latentArithmetic(model, PARAMS, test, rng)!;
    for (let r = 0; r < 4; r++) {
      for (let col = 0; col < 4; col++) {
        const [ox, oy] = layout.tileOrigin(r, col);
        assert.deepEqual([ox, oy], [2 + col * 12, 2 + r * 8]);
        for (let p = 0; p < D; p++) {
          const v = expected.tiles[(4 * r + col) * D + p]!;
          assert.deepEqual(
            rgb(png, ox + (p % 5), oy + Math.floor(p / 5)),
            grey(v),
            `row ${r} tile ${col} pixel ${p}`,
          );
        }
      }
      // Signs: − after tile 0, + after tile 1, = after tile 2; 3 pixels wide, centred in the gap.
      const y = 2 + r * 8 + 1;
      const black = [0, 0, 0];
      for (let dx = 0; dx < 3; dx++) {
        assert.deepEqual(rgb(png, 9 + dx, y + 1), black);
        assert.deepEqual(rgb(png, 21 + dx, y + 1), black);
        assert.deepEqual(rgb(png, 33 + dx, y), black);
        assert.deepEqual(rgb(png, 33 + dx, y + 2), black);
      }
      assert.notDeepEqual(rgb(png, 9 + 1, y), black);
      assert.deepEqual(rgb(png, 21 + 1, y), black);
      assert.deepEqual(rgb(png, 21 + 1, y + 2), black);
      assert.notDeepEqual(rgb(png, 33 + 1, y + 1), black);
    }
  });

  it('is skipped without labels, without a code, for the RBM and for a single class', async () => {
    const cases: [Model, ImageSet][] = [
      [linearModel('vae'), testSet(20, null)],
      [linearModel('ae', 0), testSet(20, (i) => i % 4)],
      [linearModel('rbm'), testSet(20, (i) => i % 4)],
      [linearModel('vae'), testSet(20, () => 2)],
    ];
    for (const [model, test] of cases) {
      const files = await writePictures(model, PARAMS, { test, outDir: await tempDir(), rng: new Rng(3) });
      assert.ok(files.length >= 1);
      assert.ok(
        !files.some((f) => f.file === 'latent-arithmetic.png'),
        `${model.kind} ${test.labels ? 'labelled' : ''}`,
      );
    }
  });

  it('is the same picture for the same seed and picks other images for another seed', async () => {
    const test = testSet(200, (i) => i % 10, 'fashion-mnist/test');
    const model = linearModel('vae');
    const bytes = async (seed: number): Promise<Buffer> =>
      latentArithmeticPicture(model, PARAMS, test, new Rng(seed))!.image.toPng();
    assert.deepEqual(await bytes(4), await bytes(4));
    const picks = (seed: number): readonly number[] =>
      latentArithmetic(model, PARAMS, test, new Rng(seed))!.picks;
    assert.deepEqual(picks(4), picks(4));
    assert.notDeepEqual(picks(4), picks(5));
    assert.notDeepEqual(await bytes(4), await bytes(5));
  });
});
