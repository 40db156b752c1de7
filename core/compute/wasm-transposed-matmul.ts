import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs';
import { tf } from './tf.js';

/**
 * tfjs-backend-wasm 4.22 multiplies with transposeA/transposeB far slower than it transposes and
 * multiplies plain (measured here on the 784-1000-500-250-30 autoencoder step: 924 ms against
 * 159 ms), and every MatMul gradient uses those flags. This wraps the wasm BatchMatMul kernel so
 * that a transposed operand is first materialised by the wasm Transpose kernel.
 */
let installed = false;

interface KernelBackend {
  disposeData(dataId: object): void;
}

export function installWasmTransposedMatMul(): void {
  if (installed) return;
  const matmul = tf.getKernel('BatchMatMul', 'wasm');
  const transpose = tf.getKernel('Transpose', 'wasm');
  if (!matmul || !transpose) return;
  const plain = matmul.kernelFunc;
  const swapLast = (x: TensorInfo, backend: unknown): TensorInfo => {
    const rank = x.shape.length;
    const perm = Array.from({ length: rank }, (_, i) => i);
    perm[rank - 1] = rank - 2;
    perm[rank - 2] = rank - 1;
    return transpose.kernelFunc({ inputs: { x }, attrs: { perm }, backend } as never) as TensorInfo;
  };
  const kernelFunc: KernelFunc = (args) => {
    const { transposeA, transposeB } = args.attrs as { transposeA?: boolean; transposeB?: boolean };
    if (!transposeA && !transposeB) return plain(args);
    const backend = args.backend as KernelBackend;
    const inputs = args.inputs as { a: TensorInfo; b: TensorInfo };
    const temps: TensorInfo[] = [];
    const a = transposeA ? swapLast(inputs.a, backend) : inputs.a;
    const b = transposeB ? swapLast(inputs.b, backend) : inputs.b;
    if (transposeA) temps.push(a);
    if (transposeB) temps.push(b);
    try {
      return plain({
        ...args,
        inputs: { ...args.inputs, a, b },
        attrs: { ...args.attrs, transposeA: false, transposeB: false },
      });
    } finally {
      for (const t of temps) backend.disposeData(t.dataId);
    }
  };
  const config: KernelConfig = { ...matmul, kernelFunc };
  tf.unregisterKernel('BatchMatMul', 'wasm');
  tf.registerKernel(config);
  installed = true;
}
