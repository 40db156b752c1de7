import type { KernelConfig } from '@tensorflow/tfjs';
import { NATIVE_REDUCE, type NativeAddon, type NativeReduceOp } from './native-addon.js';
import { allFloat32, f32, nativeKernelConfig, type NativeKernel } from './native-kernel-context.js';
import { tf } from './tf.js';

const REDUCE: readonly (readonly [string, NativeReduceOp])[] = [
  ['Sum', 'sum'],
  ['Mean', 'mean'],
  ['Max', 'max'],
  ['Min', 'min'],
];

/**
 * Reduces over a run of adjacent axes, read as [outer, mid, inner] with no transpose: row sums
 * (inner = 1) and column sums such as a bias gradient (outer = 1) alike. Axes that are not
 * adjacent, empty inputs and non-float dtypes go to the cpu kernel.
 */
function reduceKernel(addon: NativeAddon, op: NativeReduceOp): NativeKernel {
  const code = NATIVE_REDUCE[op];
  return ({ inputs, attrs, backend }) => {
    const x = inputs.x!;
    if (!allFloat32(x) || tf.util.sizeFromShape(x.shape) === 0) return null;
    // Max names its axes `reductionIndices`; the others `axis`.
    const axis = (op === 'max' ? attrs?.reductionIndices : attrs?.axis) as number | number[];
    const axes = tf.util.parseAxisParam(axis, x.shape).sort((p, q) => p - q);
    if (axes.some((ax, i) => i > 0 && ax !== axes[i - 1]! + 1)) return null;
    const first = axes[0] ?? x.shape.length;
    const last = axes.at(-1) ?? x.shape.length - 1;
    const outer = tf.util.sizeFromShape(x.shape.slice(0, first));
    const mid = tf.util.sizeFromShape(x.shape.slice(first, last + 1));
    const inner = tf.util.sizeFromShape(x.shape.slice(last + 1));
    const out = backend.output(outer * inner);
    addon.reduce(code, f32(backend, x), out, outer, mid, inner);
    const keepDims = attrs?.keepDims === true;
    const outShape = keepDims
      ? x.shape.map((d, i) => (axes.includes(i) ? 1 : d))
      : x.shape.filter((_, i) => !axes.includes(i));
    return backend.makeTensorInfo(outShape, 'float32', out);
  };
}

/** Sum, Mean, Max and Min over adjacent axes, on float32. */
export function reduceKernels(addon: NativeAddon): KernelConfig[] {
  return REDUCE.map(([name, op]) => nativeKernelConfig(name, reduceKernel(addon, op)));
}
