import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { BackendError, ConfigError } from '../errors.js';
import type { BackendChoice } from './backend-choice.js';
import { initNativeBackend } from './native-backend.js';
import { tf } from './tf.js';
import { installWasmTransposedMatMul } from './wasm-transposed-matmul.js';

export { BACKEND_CHOICES, type BackendChoice } from './backend-choice.js';

/** The backend in use, as recorded in summary.json. */
export interface BackendInfo {
  /** tfjs backend name: "native", "tensorflow", "webgpu", "wasm" or "cpu". */
  readonly name: string;
  /** The npm package that provides it. */
  readonly package: string;
  /**
   * Threads the backend computes with: OpenBLAS's for "native"; 1 for wasm (single-threaded in
   * Node) and cpu; null where the library manages its own pool (TensorFlow, WebGPU).
   */
  readonly threads: number | null;
  /** What does the work underneath, e.g. the OpenBLAS build or the GPU adapter. */
  readonly detail?: string;
}

/** How the backend is set up. */
export interface BackendOptions {
  /** Compute threads per process (native backend); default: every core. */
  readonly threads?: number;
}

const require = createRequire(import.meta.url);

/** Native TensorFlow bindings, GPU build first; optional dependencies that may be absent. */
const NATIVE_PACKAGES = ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node'] as const;

async function tryNative(): Promise<{ pkg: string } | { error: unknown }> {
  let lastError: unknown = new Error(`none of ${NATIVE_PACKAGES.join(', ')} is installed`);
  for (const pkg of NATIVE_PACKAGES) {
    try {
      require.resolve(pkg);
    } catch {
      continue;
    }
    try {
      await import(pkg);
      if (await tf.setBackend('tensorflow')) return { pkg };
      lastError = new Error(`${pkg} loaded but the "tensorflow" backend did not initialise`);
    } catch (err) {
      lastError = err;
    }
  }
  return { error: lastError };
}

let active: BackendInfo | null = null;

/**
 * Selects and initialises the compute backend. `auto` takes native TensorFlow when installed (the
 * GPU build first), else Harmonium's native OpenBLAS backend, else wasm (XNNPACK, SIMD) with one
 * warning saying why the native backend is missing, else tfjs's plain cpu kernels. An explicit
 * choice that cannot be honoured throws a BackendError saying why, rather than running elsewhere.
 * Selecting the active backend again applies a new thread count.
 */
export async function selectBackend(
  choice: BackendChoice,
  options: BackendOptions = {},
): Promise<BackendInfo> {
  // Calls overlap when several ranks are set up in one process (tests): they must not race two
  // initialisations, one of which could leave tfjs on another backend than the one reported.
  const previous = selecting;
  const mine = previous.catch(() => undefined).then(() => initBackend(choice, options));
  selecting = mine;
  return mine;
}

let selecting: Promise<unknown> = Promise.resolve();

function checkThreads(threads: number | undefined): number {
  const n = threads ?? availableParallelism();
  if (!Number.isInteger(n) || n < 1 || n > 1024) {
    throw new ConfigError('threads', `must be an integer in [1, 1024], got ${n}`);
  }
  return n;
}

function unavailable(name: string, err: unknown): BackendError {
  const why = err instanceof Error ? err.message : String(err);
  return new BackendError('BACKEND_UNAVAILABLE', `backend "${name}" cannot be used: ${why}`, { cause: err });
}

async function useNative(threads: number): Promise<BackendInfo> {
  const r = initNativeBackend(threads);
  if (!(await tf.setBackend('native'))) throw new Error('tf.setBackend("native") returned false');
  return { name: 'native', package: '@harmonium/native', threads: r.threads, detail: r.blas };
}

async function useWasm(): Promise<BackendInfo> {
  await import('@tensorflow/tfjs-backend-wasm');
  installWasmTransposedMatMul();
  if (!(await tf.setBackend('wasm'))) throw new Error('tf.setBackend("wasm") returned false');
  return { name: 'wasm', package: '@tensorflow/tfjs-backend-wasm', threads: 1 };
}

async function useCpu(): Promise<BackendInfo> {
  await tf.setBackend('cpu');
  return { name: 'cpu', package: '@tensorflow/tfjs-backend-cpu', threads: 1 };
}

async function initBackend(choice: BackendChoice, options: BackendOptions): Promise<BackendInfo> {
  const threads = checkThreads(options.threads);
  if (active && (choice === 'auto' || choice === active.name)) {
    if (active.name === 'native' && active.threads !== threads) active = await useNative(threads);
    return active;
  }
  let info: BackendInfo;
  switch (choice) {
    case 'tensorflow': {
      const r = await tryNative();
      if ('error' in r) {
        throw new BackendError(
          'BACKEND_UNAVAILABLE',
          `backend "tensorflow" needs @tensorflow/tfjs-node-gpu or @tensorflow/tfjs-node (npm install one of them; their install script downloads libtensorflow): ${String(r.error)}`,
          { cause: r.error },
        );
      }
      info = { name: 'tensorflow', package: r.pkg, threads: null };
      break;
    }
    case 'native':
      try {
        info = await useNative(threads);
      } catch (err) {
        throw unavailable('native', err);
      }
      break;
    case 'webgpu': {
      const { initWebgpu } = await import('./webgpu-backend.js');
      const r = await initWebgpu();
      info = { name: 'webgpu', package: r.package, threads: null, detail: r.adapter };
      break;
    }
    case 'wasm':
      try {
        info = await useWasm();
      } catch (err) {
        throw unavailable('wasm', err);
      }
      break;
    case 'cpu':
      info = await useCpu();
      break;
    case 'auto': {
      const r = await tryNative();
      if ('pkg' in r) {
        info = { name: 'tensorflow', package: r.pkg, threads: null };
        break;
      }
      try {
        info = await useNative(threads);
        break;
      } catch (err) {
        warnOnce(
          `Harmonium falls back to the wasm backend, several times slower: ${err instanceof Error ? err.message : String(err)}`,
        );
      }
      try {
        info = await useWasm();
      } catch {
        info = await useCpu();
      }
      break;
    }
  }
  await tf.ready();
  silenceCpuBanner();
  active = info;
  return info;
}

/**
 * Lets go of what the backend holds outside the JavaScript heap that would keep the process alive
 * after its work is done: Dawn's GPU objects for webgpu. A no-op for the other backends.
 */
export async function releaseBackend(): Promise<void> {
  if (active?.name !== 'webgpu') return;
  const { releaseWebgpu } = await import('./webgpu-backend.js');
  releaseWebgpu();
  active = null;
}

let warned = false;

/** One warning per process, on stderr through Node's warning channel (so --no-warnings silences it). */
function warnOnce(message: string): void {
  if (warned) return;
  warned = true;
  process.emitWarning(message, { code: 'HARMONIUM_NATIVE_UNAVAILABLE' });
}

/** The cpu backend (and native, built on it) prints an advert for tfjs-node on first use; our logs say which backend runs. */
function silenceCpuBanner(): void {
  for (const name of ['cpu', 'native']) {
    const backend = tf.findBackend(name) as unknown as { firstUse?: boolean } | null;
    if (backend && 'firstUse' in backend) backend.firstUse = false;
  }
}
