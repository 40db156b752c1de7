import type { KernelConfig, TensorInfo } from '@tensorflow/tfjs';
import { NATIVE_ACTIVATIONS, type NativeAddon } from './native-addon.js';
import { tf } from './tf.js';
import { allFloat32, f32, nativeKernelConfig, type NativeKernel } from './native-kernel-context.js';
import type { NativeTensorStore } from './native-tensor-store.js';

interface MatMulAttrs {
  transposeA?: boolean;
  transposeB?: boolean;
  activation?: string;
  leakyreluAlpha?: number;
}

/** Same leading (batch) dimensions, or one side without any beyond 1: the broadcasts sgemm strides cover. */
function batchLayout(
  a: TensorInfo,
  b: TensorInfo,
): { outer: number[]; strideA: boolean; strideB: boolean } | null {
  const outerA = a.shape.slice(0, -2);
  const outerB = b.shape.slice(0, -2);
  const batchA = tf.util.sizeFromShape(outerA);
  const batchB = tf.util.sizeFromShape(outerB);
  const same = outerA.length === outerB.length && outerA.every((d, i) => d === outerB[i]);
  if (same) return { outer: outerA, strideA: true, strideB: true };
  if (batchA === 1 && outerA.length <= outerB.length) return { outer: outerB, strideA: false, strideB: true };
  if (batchB === 1 && outerB.length <= outerA.length) return { outer: outerA, strideA: true, strideB: false };
  return null;
}

/**
 * op(a) op(b) (+ bias, activation) through sgemm. Returns null for what it does not cover: non-float
 * inputs, batch broadcasts other than "one side shared", PReLU, biases other than per column.
 */
function matmul(
  addon: NativeAddon,
  backend: NativeTensorStore,
  a: TensorInfo,
  b: TensorInfo,
  attrs: MatMulAttrs,
  bias?: TensorInfo,
): TensorInfo | null {
  if (!allFloat32(a, b, bias) || a.shape.length < 2 || b.shape.length < 2) return null;
  const ta = attrs.transposeA === true;
  const tb = attrs.transposeB === true;
  const ra = a.shape.length;
  const rb = b.shape.length;
  const m = ta ? a.shape[ra - 1]! : a.shape[ra - 2]!;
  const k = ta ? a.shape[ra - 2]! : a.shape[ra - 1]!;
  const kb = tb ? b.shape[rb - 1]! : b.shape[rb - 2]!;
  const n = tb ? b.shape[rb - 2]! : b.shape[rb - 1]!;
  if (k !== kb) return null; // the cpu kernel throws tfjs's own message
  const layout = batchLayout(a, b);
  if (!layout) return null;
  const activation = attrs.activation ?? 'linear';
  if (!(activation in NATIVE_ACTIVATIONS)) return null;
  if (bias && !(bias.shape.slice(0, -1).every((d) => d === 1) && [1, n].includes(bias.shape.at(-1) ?? 1)))
    return null;
  const batch = tf.util.sizeFromShape(layout.outer);
  const out = backend.output(batch * m * n);
  addon.gemm(
    ta,
    tb,
    batch,
    m,
    n,
    k,
    f32(backend, a),
    layout.strideA ? m * k : 0,
    f32(backend, b),
    layout.strideB ? k * n : 0,
    out,
    bias ? f32(backend, bias) : null,
    NATIVE_ACTIVATIONS[activation as keyof typeof NATIVE_ACTIVATIONS],
    attrs.leakyreluAlpha ?? 0.2,
  );
  return backend.makeTensorInfo([...layout.outer, m, n], 'float32', out);
}

/** BatchMatMul and _FusedMatMul (bias + activation applied in the same pass over the product). */
export function matmulKernels(addon: NativeAddon): KernelConfig[] {
  const batchMatMul: NativeKernel = ({ inputs, attrs, backend }) =>
    matmul(addon, backend, inputs.a!, inputs.b!, (attrs ?? {}) as MatMulAttrs);
  const fusedMatMul: NativeKernel = ({ inputs, attrs, backend }) =>
    inputs.preluActivationWeights
      ? null
      : matmul(addon, backend, inputs.a!, inputs.b!, (attrs ?? {}) as MatMulAttrs, inputs.bias);
  return [nativeKernelConfig('BatchMatMul', batchMatMul), nativeKernelConfig('_FusedMatMul', fusedMatMul)];
}
