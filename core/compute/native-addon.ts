import { createRequire } from 'node:module';

import { chooseBlasCore } from './blas-core.js';

/** Fused activations the addon applies after a matmul, by code (see native/src/kernels.h). */
export const NATIVE_ACTIVATIONS = { linear: 0, relu: 1, sigmoid: 2, relu6: 3, leakyrelu: 4, elu: 5 } as const;
export type NativeActivation = keyof typeof NATIVE_ACTIVATIONS;

/** Binary op codes; the comparison ops (from `less` on) write 0/1 bytes into a Uint8Array. */
export const NATIVE_BINARY = {
  add: 0,
  sub: 1,
  mul: 2,
  div: 3,
  squaredDifference: 4,
  maximum: 5,
  minimum: 6,
  less: 7,
  lessEqual: 8,
  greater: 9,
  greaterEqual: 10,
  equal: 11,
  notEqual: 12,
} as const;
export type NativeBinaryOp = keyof typeof NATIVE_BINARY;

export const NATIVE_UNARY = {
  sigmoid: 0,
  relu: 1,
  exp: 2,
  log: 3,
  neg: 4,
  abs: 5,
  square: 6,
  sqrt: 7,
  rsqrt: 8,
  tanh: 9,
  softplus: 10,
  step: 11,
  reciprocal: 12,
  log1p: 13,
  relu6: 14,
  leakyrelu: 15,
  elu: 16,
} as const;
export type NativeUnaryOp = keyof typeof NATIVE_UNARY;

export const NATIVE_REDUCE = { sum: 0, mean: 1, max: 2, min: 3 } as const;
export type NativeReduceOp = keyof typeof NATIVE_REDUCE;

/**
 * The compiled addon (native/src/addon.c). Every call checks its arguments' types and lengths and
 * throws a TypeError rather than touching memory out of bounds; buffers are written in place.
 */
export interface NativeAddon {
  /**
   * out[b] = op(a[b]) op(b[b]) for b < batch, row-major, m x k times k x n; a stride of 0 reuses
   * one operand for every batch entry. Then bias (length 1 or n, or null) and an activation code.
   */
  gemm(
    transA: boolean,
    transB: boolean,
    batch: number,
    m: number,
    n: number,
    k: number,
    a: Float32Array,
    strideA: number,
    b: Float32Array,
    strideB: number,
    out: Float32Array,
    bias: Float32Array | null,
    activation: number,
    alpha: number,
  ): void;
  /** dims = [ndim, ...shape, ...stridesA, ...stridesB] (element strides, 0 to broadcast). */
  binary(
    op: number,
    dims: Float64Array,
    a: Float32Array,
    b: Float32Array,
    out: Float32Array | Uint8Array,
  ): void;
  unary(op: number, x: Float32Array, out: Float32Array, alpha: number): void;
  /** dx = dy * step(x) (tfjs's step: NaN for NaN, 1 above 0, else 0), all of dy's length. */
  reluGrad(dy: Float32Array, x: Float32Array, dx: Float32Array): void;
  /** x laid out [outer, mid, inner], reduced over mid into out [outer, inner]. */
  reduce(op: number, x: Float32Array, out: Float32Array, outer: number, mid: number, inner: number): void;
  /** geom: batch, inH, inW, inC, outH, outW, outC, filterH, filterW, strideH, strideW, dilationH, dilationW, padTop, padLeft. */
  /** y = activation(conv(x, filter) + bias): bias [outC] or null, an activation code, its alpha. */
  conv2d(
    geom: Float64Array,
    x: Float32Array,
    filter: Float32Array,
    y: Float32Array,
    bias?: Float32Array | null,
    activation?: number,
    alpha?: number,
  ): void;
  conv2dBackpropInput(geom: Float64Array, dy: Float32Array, filter: Float32Array, dx: Float32Array): void;
  conv2dBackpropFilter(geom: Float64Array, x: Float32Array, dy: Float32Array, dw: Float32Array): void;
  maxPool(geom: Float64Array, x: Float32Array, y: Float32Array): void;
  maxPoolGrad(geom: Float64Array, x: Float32Array, dy: Float32Array, dx: Float32Array): void;
  sgd(
    params: Float32Array,
    grads: Float32Array,
    velocity: Float32Array,
    lr: number,
    momentum: number,
    nesterov: boolean,
  ): void;
  adam(
    params: Float32Array,
    grads: Float32Array,
    m: Float32Array,
    v: Float32Array,
    beta1: number,
    beta2: number,
    stepSize: number,
    invSqrtBc2: number,
    eps: number,
  ): void;
  /**
   * out[r] = pixels[indices[r]] / 255, `row` bytes per image, rows copied in parallel on the kernel
   * pool; the values are those of core/data/corpus.ts's JavaScript gather. An index past the set
   * throws (code ERANGE, naming the row) before anything is written.
   */
  gatherBytes(pixels: Uint8Array, indices: Uint32Array, row: number, out: Float32Array): void;
  /** OpenBLAS's thread count for the products that follow. */
  setThreads(n: number): void;
  threads(): number;
  /**
   * Keeps memory freed by one training step in the heap for the next (raises glibc's mmap and trim
   * thresholds), instead of mapping fresh pages for every tensor; false where it does not apply.
   */
  keepFreedMemory(): boolean;
  /** OpenBLAS's build description, e.g. "OpenBLAS 0.3.21 DYNAMIC_ARCH ... Cooperlake MAX_THREADS=64". */
  blasConfig(): string;
}

const require = createRequire(import.meta.url);
let loaded: { addon: NativeAddon } | { error: Error } | null = null;

/**
 * The addon, or why it cannot be loaded (not built: npm ci without libopenblas-dev, a build
 * failure, or a platform without a compiler). The answer is cached for the process.
 */
export function loadNativeAddon(): { addon: NativeAddon } | { error: Error } {
  if (loaded) return loaded;
  try {
    // Read by OpenBLAS as the addon loads it.
    chooseBlasCore();
    loaded = { addon: require('@harmonium/native') as NativeAddon };
  } catch (err) {
    const reason = err instanceof Error ? err.message.split('\n')[0]! : String(err);
    loaded = {
      error: new Error(
        `the native addon @harmonium/native is not built (${reason}); it builds during npm ci when ` +
          'Debian libopenblas-dev, make and g++ are installed: apt-get install libopenblas-dev, then npm rebuild @harmonium/native',
        { cause: err },
      ),
    };
  }
  return loaded;
}

/** The addon, or null where it is not built (callers then take their JavaScript path). */
export function optionalNativeAddon(): NativeAddon | null {
  const r = loadNativeAddon();
  return 'addon' in r ? r.addon : null;
}

/** The addon, throwing the reason it is unavailable. */
export function nativeAddon(): NativeAddon {
  const r = loadNativeAddon();
  if ('error' in r) throw r.error;
  return r.addon;
}
