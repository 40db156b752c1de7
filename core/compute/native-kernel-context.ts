import type {
  KernelConfig,
  KernelFunc,
  NamedAttrMap,
  NamedTensorInfoMap,
  TensorInfo,
} from '@tensorflow/tfjs';
import type { NativeTensorStore } from './native-tensor-store.js';
import { tf } from './tf.js';

/** What a native kernel receives: tfjs's kernel arguments with the backend typed. */
export interface NativeKernelArgs {
  readonly inputs: NamedTensorInfoMap;
  readonly attrs?: NamedAttrMap;
  readonly backend: NativeTensorStore;
}

/**
 * A native kernel: returns its output, or null to hand the call to tfjs's cpu kernel of the same
 * name (dtypes, layouts or broadcasts it does not cover), so every op still works.
 */
export type NativeKernel = (args: NativeKernelArgs) => TensorInfo | null;

/**
 * The float32 values behind a tensor of the native backend (a cpu-backend store), without a copy
 * when they are stored as float32. tfjs's cpu Cast from bool to float32 shares the bool tensor's
 * Uint8Array instead of converting it; such values are converted here.
 */
export function f32(backend: NativeTensorStore, t: TensorInfo): Float32Array {
  const values = backend.data.get(t.dataId).values;
  return values instanceof Float32Array ? values : Float32Array.from(values as ArrayLike<number>);
}

/** True when every tensor given is float32 (the only dtype the native kernels compute in). */
export function allFloat32(...ts: (TensorInfo | undefined)[]): boolean {
  return ts.every((t) => t === undefined || t.dtype === 'float32');
}

/** Registers `kernel` for the native backend under `name`, falling back to the cpu kernel. */
export function nativeKernelConfig(name: string, kernel: NativeKernel): KernelConfig {
  const cpu = tf.getKernel(name, 'cpu');
  if (!cpu) throw new Error(`tfjs has no cpu kernel "${name}" to fall back on`);
  const fallback = cpu.kernelFunc;
  const kernelFunc: KernelFunc = (args) => kernel(args as unknown as NativeKernelArgs) ?? fallback(args);
  return { kernelName: name, backendName: 'native', kernelFunc };
}
