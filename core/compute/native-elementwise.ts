import type { GradConfig, KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs';
import {
  NATIVE_BINARY,
  NATIVE_UNARY,
  type NativeAddon,
  type NativeBinaryOp,
  type NativeUnaryOp,
} from './native-addon.js';
import { tf } from './tf.js';
import {
  allFloat32,
  f32,
  nativeKernelConfig,
  type NativeKernel,
  type NativeKernelArgs,
} from './native-kernel-context.js';

/** Most dimensions the addon walks once adjacent ones are merged (native/src/kernels.h). */
const MAX_DIMS = 8;

/** tfjs kernel name -> the addon's binary op. */
const BINARY: readonly (readonly [string, NativeBinaryOp])[] = [
  ['Add', 'add'],
  ['Sub', 'sub'],
  ['Multiply', 'mul'],
  ['RealDiv', 'div'],
  ['SquaredDifference', 'squaredDifference'],
  ['Maximum', 'maximum'],
  ['Minimum', 'minimum'],
  ['Less', 'less'],
  ['LessEqual', 'lessEqual'],
  ['Greater', 'greater'],
  ['GreaterEqual', 'greaterEqual'],
  ['Equal', 'equal'],
  ['NotEqual', 'notEqual'],
];

/** tfjs kernel name -> the addon's unary op; `alpha` comes from the kernel's attrs where it has one. */
const UNARY: readonly (readonly [string, NativeUnaryOp])[] = [
  ['Sigmoid', 'sigmoid'],
  ['Relu', 'relu'],
  ['Exp', 'exp'],
  ['Log', 'log'],
  ['Neg', 'neg'],
  ['Abs', 'abs'],
  ['Square', 'square'],
  ['Sqrt', 'sqrt'],
  ['Rsqrt', 'rsqrt'],
  ['Tanh', 'tanh'],
  ['Softplus', 'softplus'],
  ['Step', 'step'],
  ['Reciprocal', 'reciprocal'],
  ['Log1p', 'log1p'],
  ['Relu6', 'relu6'],
  ['LeakyRelu', 'leakyrelu'],
  ['Elu', 'elu'],
];

/**
 * The broadcast of a and b (numpy rules) as the addon walks it: the output shape and, per
 * dimension, each operand's element stride (0 where it is broadcast). Size-1 dimensions are
 * dropped and adjacent dimensions merged where both operands stay contiguous across them, so a
 * same-shape op is one run and a bias add is rows of contiguous runs against one shared row.
 * Null when the shapes do not broadcast (tfjs's cpu kernel then throws its own error).
 */
export function broadcastWalk(
  aShape: readonly number[],
  bShape: readonly number[],
): { outShape: number[]; dims: Float64Array } | null {
  const rank = Math.max(aShape.length, bShape.length);
  const pad = (s: readonly number[]): number[] => [...Array<number>(rank - s.length).fill(1), ...s];
  const a = pad(aShape);
  const b = pad(bShape);
  const outShape: number[] = [];
  for (let d = 0; d < rank; d++) {
    const x = a[d]!;
    const y = b[d]!;
    if (x !== y && x !== 1 && y !== 1) return null;
    outShape.push(x === 1 ? y : x);
  }
  const contiguous = (s: number[]): number[] => {
    const st = new Array<number>(rank).fill(0);
    let acc = 1;
    for (let d = rank - 1; d >= 0; d--) {
      st[d] = s[d] === 1 ? 0 : acc;
      acc *= s[d]!;
    }
    return st;
  };
  const sa = contiguous(a);
  const sb = contiguous(b);
  const shape: number[] = [];
  const strideA: number[] = [];
  const strideB: number[] = [];
  for (let d = 0; d < rank; d++) {
    const n = outShape[d]!;
    if (n === 1) continue;
    const last = shape.length - 1;
    if (last >= 0 && strideA[last] === sa[d]! * n && strideB[last] === sb[d]! * n) {
      shape[last] = shape[last]! * n;
      strideA[last] = sa[d]!;
      strideB[last] = sb[d]!;
    } else {
      shape.push(n);
      strideA.push(sa[d]!);
      strideB.push(sb[d]!);
    }
  }
  if (shape.length > MAX_DIMS) return null;
  return { outShape, dims: Float64Array.from([shape.length, ...shape, ...strideA, ...strideB]) };
}

function binaryKernel(addon: NativeAddon, op: NativeBinaryOp): NativeKernel {
  const code = NATIVE_BINARY[op];
  const compare = code >= NATIVE_BINARY.less;
  return ({ inputs, backend }) => {
    const a = inputs.a!;
    const b = inputs.b!;
    if (!allFloat32(a, b)) return null;
    const walk = broadcastWalk(a.shape, b.shape);
    if (!walk) return null;
    const size = tf.util.sizeFromShape(walk.outShape);
    const out = compare ? new Uint8Array(size) : backend.output(size);
    addon.binary(code, walk.dims, f32(backend, a), f32(backend, b), out);
    return backend.makeTensorInfo(walk.outShape, compare ? 'bool' : 'float32', out);
  };
}

function unaryKernel(addon: NativeAddon, op: NativeUnaryOp): NativeKernel {
  const code = NATIVE_UNARY[op];
  return ({ inputs, attrs, backend }) => {
    const x: TensorInfo = inputs.x!;
    if (!allFloat32(x)) return null;
    const out = backend.output(tf.util.sizeFromShape(x.shape));
    const alpha = (attrs?.alpha as number | undefined) ?? (op === 'leakyrelu' ? 0.2 : 0);
    addon.unary(code, f32(backend, x), out, alpha);
    return backend.makeTensorInfo(x.shape, 'float32', out);
  };
}

/** Kernel name of the one-pass ReLU gradient (native only; see {@link reluGradient}). */
export const RELU_GRAD_KERNEL = 'HarmoniumReluGrad';

/** dx = dy * step(x) in one pass, for the native backend's ReLU gradient. */
export function reluGradKernel(addon: NativeAddon): KernelConfig {
  const kernelFunc: KernelFunc = (args) => {
    const { inputs, backend } = args as unknown as NativeKernelArgs;
    const dy = inputs.dy!;
    const x = inputs.x!;
    if (!allFloat32(dy, x) || tf.util.sizeFromShape(dy.shape) !== tf.util.sizeFromShape(x.shape)) {
      throw new Error(`${RELU_GRAD_KERNEL}: float32 dy and x of one shape, got ${dy.shape} and ${x.shape}`);
    }
    const dx = backend.output(tf.util.sizeFromShape(x.shape));
    addon.reluGrad(f32(backend, dy), f32(backend, x), dx);
    return backend.makeTensorInfo(x.shape, 'float32', dx);
  };
  return { kernelName: RELU_GRAD_KERNEL, backendName: 'native', kernelFunc };
}

/**
 * tfjs's ReLU gradient (dy * cast(step(x))), as one kernel on the native backend: two passes
 * and a tensor fewer over every ReLU's input (the convolutional autoencoder's first layer: 1.25
 * million values a step). The same values; other backends keep tfjs's formula.
 */
export const reluGradient: GradConfig = {
  kernelName: 'Relu',
  inputsToSave: ['x'],
  gradFunc: (dy, saved) => {
    const [x] = saved;
    const g = dy as tf.Tensor;
    return {
      x: () =>
        tf.getBackend() === 'native'
          ? (tf.engine().runKernel(RELU_GRAD_KERNEL, { dy: g, x: x! }) as tf.Tensor)
          : tf.mul(g, tf.cast(tf.step(x!), 'float32')),
    };
  },
};

/** Binary ops with broadcasting and the unary ops training uses, on float32. */
export function elementwiseKernels(addon: NativeAddon): KernelConfig[] {
  return [
    ...BINARY.map(([name, op]) => nativeKernelConfig(name, binaryKernel(addon, op))),
    ...UNARY.map(([name, op]) => nativeKernelConfig(name, unaryKernel(addon, op))),
  ];
}
