import { nativeAddon } from './native-addon.js';
import { convKernels } from './native-conv.js';
import { elementwiseKernels, reluGradient, reluGradKernel } from './native-elementwise.js';
import { matmulKernels } from './native-matmul.js';
import { reduceKernels } from './native-reduce.js';
import { NativeTensorStore } from './native-tensor-store.js';
import { tf } from './tf.js';

let registered = false;

/**
 * Registers the tfjs backend "native": tfjs's cpu backend (its tensor store and every cpu kernel,
 * so each op still works) with the hot kernels replaced by the addon's: products through OpenBLAS
 * sgemm, elementwise ops with broadcast fast paths, reductions, convolution and pooling. Throws
 * when the addon is not built, saying why. Sets OpenBLAS's thread count on every call.
 */
export function initNativeBackend(threads: number): { threads: number; blas: string } {
  const addon = nativeAddon();
  if (!registered) {
    // Priority 0: tfjs never picks it on its own; selectBackend does, explicitly.
    tf.registerBackend('native', () => new NativeTensorStore(), 0);
    for (const kernel of tf.getKernelsForBackend('cpu'))
      tf.registerKernel({ ...kernel, backendName: 'native' });
    const natives = [
      ...matmulKernels(addon),
      ...elementwiseKernels(addon),
      ...reduceKernels(addon),
      ...convKernels(addon),
    ];
    for (const kernel of natives) {
      tf.unregisterKernel(kernel.kernelName, 'native');
      tf.registerKernel(kernel);
    }
    tf.registerKernel(reluGradKernel(addon));
    // Replaces tfjs's own Relu gradient for every backend: it computes the same thing, in one
    // kernel when the backend is native (see reluGradient).
    tf.registerGradient(reluGradient);
    // Measured on the deep autoencoder step (batch 100): minor page faults per step fell from about
    // 2,100 to about 900.
    addon.keepFreedMemory();
    registered = true;
  }
  addon.setThreads(threads);
  return { threads: addon.threads(), blas: addon.blasConfig() };
}
