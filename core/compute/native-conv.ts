import type { KernelConfig } from '@tensorflow/tfjs';
import { NATIVE_ACTIVATIONS, type NativeAddon } from './native-addon.js';
import { allFloat32, f32, nativeKernelConfig, type NativeKernel } from './native-kernel-context.js';
import { tf } from './tf.js';

type Conv2DInfo = ReturnType<typeof tf.backend_util.computeConv2DInfo>;
type ConvAttrs = {
  activation?: string;
  leakyreluAlpha?: number;
  strides: [number, number] | number;
  pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
  dataFormat: 'NHWC' | 'NCHW';
  dilations?: [number, number] | number;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  filterShape?: [number, number, number, number];
  inputShape?: [number, number, number, number];
  filterSize?: [number, number] | number;
};

/** The geometry the addon reads (native/src/kernels.h hn_conv_geom), from tfjs's own Conv2DInfo. */
function geometry(info: Conv2DInfo): Float64Array {
  return Float64Array.from([
    info.batchSize,
    info.inHeight,
    info.inWidth,
    info.inChannels,
    info.outHeight,
    info.outWidth,
    info.outChannels,
    info.filterHeight,
    info.filterWidth,
    info.strideHeight,
    info.strideWidth,
    info.dilationHeight,
    info.dilationWidth,
    info.padInfo.top,
    info.padInfo.left,
  ]);
}

function convInfo(
  xShape: readonly number[],
  filterShape: readonly number[],
  attrs: ConvAttrs,
  dilations: ConvAttrs['dilations'],
): Conv2DInfo | null {
  const format = tf.backend_util.convertConv2DDataFormat(attrs.dataFormat);
  const info = tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    attrs.strides,
    dilations ?? 1,
    attrs.pad,
    attrs.dimRoundingMode,
    false,
    format,
  );
  return info.dataFormat === 'channelsLast' ? info : null;
}

/**
 * Conv2D (plain and fused with a bias and activation), its input and filter gradients (im2col +
 * sgemm), MaxPool and its gradient; NHWC only.
 */
export function convKernels(addon: NativeAddon): KernelConfig[] {
  const conv2d: NativeKernel = ({ inputs, attrs, backend }) => {
    const { x, filter } = inputs;
    const a = attrs as unknown as ConvAttrs;
    if (!allFloat32(x, filter)) return null;
    const info = convInfo(x!.shape, filter!.shape, a, a.dilations);
    if (!info) return null;
    const y = backend.output(tf.util.sizeFromShape(info.outShape));
    addon.conv2d(geometry(info), f32(backend, x!), f32(backend, filter!), y);
    return backend.makeTensorInfo(info.outShape, 'float32', y);
  };
  // The bias and activation applied in the pass that writes each block of the output, saving two
  // passes over it (tf.fused.conv2d; its gradient is tfjs's, for linear and relu).
  const fusedConv2d: NativeKernel = ({ inputs, attrs, backend }) => {
    const { x, filter, bias, preluActivationWeights } = inputs;
    const a = attrs as unknown as ConvAttrs;
    const activation = a.activation ?? 'linear';
    if (preluActivationWeights || !(activation in NATIVE_ACTIVATIONS)) return null;
    if (!allFloat32(x, filter, bias)) return null;
    const info = convInfo(x!.shape, filter!.shape, a, a.dilations);
    if (!info) return null;
    if (bias && tf.util.sizeFromShape(bias.shape) !== info.outChannels) return null;
    const y = backend.output(tf.util.sizeFromShape(info.outShape));
    addon.conv2d(
      geometry(info),
      f32(backend, x!),
      f32(backend, filter!),
      y,
      bias ? f32(backend, bias) : null,
      NATIVE_ACTIVATIONS[activation as keyof typeof NATIVE_ACTIVATIONS],
      a.leakyreluAlpha ?? 0.2,
    );
    return backend.makeTensorInfo(info.outShape, 'float32', y);
  };
  const backpropInput: NativeKernel = ({ inputs, attrs, backend }) => {
    const { dy, filter } = inputs;
    const a = attrs as unknown as ConvAttrs;
    if (!allFloat32(dy, filter) || !a.inputShape) return null;
    const info = convInfo(a.inputShape, filter!.shape, a, 1);
    if (!info) return null;
    const dx = backend.output(tf.util.sizeFromShape(info.inShape));
    addon.conv2dBackpropInput(geometry(info), f32(backend, dy!), f32(backend, filter!), dx);
    return backend.makeTensorInfo(info.inShape, 'float32', dx);
  };
  const backpropFilter: NativeKernel = ({ inputs, attrs, backend }) => {
    const { x, dy } = inputs;
    const a = attrs as unknown as ConvAttrs;
    if (!allFloat32(x, dy) || !a.filterShape) return null;
    const info = convInfo(x!.shape, a.filterShape, a, 1);
    if (!info) return null;
    const dw = backend.output(tf.util.sizeFromShape(a.filterShape));
    addon.conv2dBackpropFilter(geometry(info), f32(backend, x!), f32(backend, dy!), dw);
    return backend.makeTensorInfo([...a.filterShape], 'float32', dw);
  };
  const poolInfo = (xShape: readonly number[], a: ConvAttrs): Conv2DInfo =>
    tf.backend_util.computePool2DInfo(
      xShape as [number, number, number, number],
      a.filterSize ?? 1,
      a.strides,
      1,
      a.pad,
      a.dimRoundingMode,
    );
  const maxPool: NativeKernel = ({ inputs, attrs, backend }) => {
    const x = inputs.x!;
    if (!allFloat32(x) || x.shape.length !== 4) return null;
    const info = poolInfo(x.shape, attrs as unknown as ConvAttrs);
    const y = backend.output(tf.util.sizeFromShape(info.outShape));
    addon.maxPool(geometry(info), f32(backend, x), y);
    return backend.makeTensorInfo(info.outShape, 'float32', y);
  };
  const maxPoolGrad: NativeKernel = ({ inputs, attrs, backend }) => {
    const { dy, input } = inputs;
    if (!allFloat32(dy, input) || input!.shape.length !== 4) return null;
    const info = poolInfo(input!.shape, attrs as unknown as ConvAttrs);
    const dx = backend.output(tf.util.sizeFromShape(input!.shape));
    addon.maxPoolGrad(geometry(info), f32(backend, input!), f32(backend, dy!), dx);
    return backend.makeTensorInfo(input!.shape, 'float32', dx);
  };
  return [
    nativeKernelConfig('Conv2D', conv2d),
    nativeKernelConfig('FusedConv2D', fusedConv2d),
    nativeKernelConfig('Conv2DBackpropInput', backpropInput),
    nativeKernelConfig('Conv2DBackpropFilter', backpropFilter),
    nativeKernelConfig('MaxPool', maxPool),
    nativeKernelConfig('MaxPoolGrad', maxPoolGrad),
  ];
}
