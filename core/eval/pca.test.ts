import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { before, describe, it } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { selectBackend } from '../compute/backend.js';
import { fitPca, pcaEncode, pcaReconstruct } from './pca.js';

const FASHION = '/usr/share/datasets/fashion-mnist/';

/** Pixels of an IDX image file (16-byte header) scaled to [0, 1]. */
function readImages(file: string, limit: number): { count: number; x: Float32Array } {
  const b = gunzipSync(readFileSync(FASHION + file));
  const count = Math.min(limit, b.readUInt32BE(4));
  return { count, x: Float32Array.from(b.subarray(16, 16 + count * 784), (v) => v / 255) };
}

function sse(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i]! - b[i]!) ** 2;
  return s;
}

before(async () => {
  await selectBackend('wasm');
});

describe('fitPca', () => {
  // Four points mean + (±3 u1) and mean + (±1 u2) in 5-D: covariance 6 u1u1ᵀ + (2/3) u2u2ᵀ.
  const dim = 5;
  const u1 = [0.6, 0.8, 0, 0, 0];
  const u2 = [0, 0, 0, 0.8, -0.6];
  const mean = [0.5, 0.1, 0.2, 0.3, 0.4];
  const rows: number[][] = [
    [3, 0],
    [-3, 0],
    [0, 1],
    [0, -1],
  ];
  const data = Float32Array.from(rows.flatMap(([a, b]) => mean.map((m, j) => m + a! * u1[j]! + b! * u2[j]!)));

  it('recovers the known directions, variances and mean of a tiny set', () => {
    const pca = fitPca(data, 4, dim, 2, { chunkRows: 3 });
    assert.ok(pca.converged);
    assert.ok(Math.abs(pca.explainedVariance[0]! - 6) < 1e-5);
    assert.ok(Math.abs(pca.explainedVariance[1]! - 2 / 3) < 1e-5);
    assert.ok(Math.abs(pca.totalVariance - (6 + 2 / 3)) < 1e-5);
    for (let j = 0; j < dim; j++) {
      assert.ok(Math.abs(pca.mean[j]! - mean[j]!) < 1e-6);
      // Sign convention: the largest entry of each component is positive.
      assert.ok(Math.abs(pca.components[j]! - u1[j]!) < 1e-5, `u1[${j}]`);
      assert.ok(Math.abs(pca.components[dim + j]! - u2[j]!) < 1e-5, `u2[${j}]`);
    }
    // Two components reconstruct the rank-2 data exactly; one loses the ±1 u2 part.
    assert.ok(sse(pcaReconstruct(pca, pcaEncode(pca, data, 4), 4), data) < 1e-10);
    const one = fitPca(data, 4, dim, 1);
    assert.ok(Math.abs(sse(pcaReconstruct(one, pcaEncode(one, data, 4), 4), data) - 2) < 1e-5);
  });

  it('completes the basis when asked for more components than the data has rank', () => {
    const pca = fitPca(data, 4, dim, 4);
    assert.ok(Math.abs(pca.explainedVariance[2]!) < 1e-6);
    for (let a = 0; a < 4; a++) {
      for (let b = 0; b < 4; b++) {
        let s = 0;
        for (let j = 0; j < dim; j++) s += pca.components[a * dim + j]! * pca.components[b * dim + j]!;
        assert.ok(Math.abs(s - (a === b ? 1 : 0)) < 1e-6, `orthonormal ${a},${b}`);
      }
    }
  });

  it('rejects a component count outside [1, dim]', () => {
    assert.throws(() => fitPca(data, 4, dim, 0), /component count/);
    assert.throws(() => fitPca(data, 4, dim, 6), /component count/);
  });

  it('PCA-30 fitted on 10000 Fashion-MNIST training images matches the reference test error', () => {
    const train = readImages('train-images-idx3-ubyte.gz', 10000);
    const test = readImages('t10k-images-idx3-ubyte.gz', 10000);
    const t = performance.now();
    const pca = fitPca(train.x, train.count, 784, 30);
    const fitMs = performance.now() - t;
    assert.ok(pca.converged, `residual ${pca.residual} after ${pca.iterations} iterations`);
    const perImage =
      sse(pcaReconstruct(pca, pcaEncode(pca, test.x, test.count), test.count), test.x) / test.count;
    console.log(
      `PCA-30 (fit on 10000): test SSE/image ${perImage.toFixed(3)}, fit ${fitMs.toFixed(0)} ms, ${pca.iterations} iterations`,
    );
    // Reference (fit on all 60000, numpy SVD): 12.2; a 10000-image fit measured 12.29.
    assert.ok(Math.abs(perImage - 12.2) < 0.3, `SSE/image ${perImage}`);
    // Chunking must not change the fit.
    const coarse = fitPca(train.x, 3000, 784, 5, { chunkRows: 3000 });
    const fine = fitPca(train.x, 3000, 784, 5, { chunkRows: 700 });
    for (let i = 0; i < 5; i++) {
      assert.ok(Math.abs(coarse.explainedVariance[i]! / fine.explainedVariance[i]! - 1) < 1e-4);
    }
  });
});
