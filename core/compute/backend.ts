import { createRequire } from 'node:module';
import { BackendError } from '../errors.js';
import { tf } from './tf.js';
import { installWasmTransposedMatMul } from './wasm-transposed-matmul.js';

export const BACKEND_CHOICES = ['auto', 'tensorflow', 'wasm', 'cpu'] as const;
export type BackendChoice = (typeof BACKEND_CHOICES)[number];

/** The backend in use, as recorded in summary.json. */
export interface BackendInfo {
  /** tfjs backend name: "tensorflow", "wasm" or "cpu". */
  readonly name: string;
  /** The npm package that provides it. */
  readonly package: string;
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

async function tryWasm(): Promise<boolean> {
  await import('@tensorflow/tfjs-backend-wasm');
  installWasmTransposedMatMul();
  return tf.setBackend('wasm');
}

let active: BackendInfo | null = null;

/**
 * Selects and initialises the compute backend. `auto` takes native TensorFlow when installed,
 * else wasm (XNNPACK, SIMD), else tfjs's plain cpu kernels. An explicit choice that cannot be
 * honoured throws a BackendError saying why, rather than silently running elsewhere.
 */
export async function selectBackend(choice: BackendChoice): Promise<BackendInfo> {
  // Calls overlap when several ranks are set up in one process (tests): they must not race two
  // initialisations, one of which could leave tfjs on another backend than the one reported.
  const previous = selecting;
  const mine = previous.catch(() => undefined).then(() => initBackend(choice));
  selecting = mine;
  return mine;
}

let selecting: Promise<unknown> = Promise.resolve();

async function initBackend(choice: BackendChoice): Promise<BackendInfo> {
  if (active && (choice === 'auto' || choice === active.name)) return active;
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
      info = { name: 'tensorflow', package: r.pkg };
      break;
    }
    case 'wasm': {
      try {
        if (!(await tryWasm())) throw new Error('tf.setBackend("wasm") returned false');
      } catch (err) {
        throw new BackendError('BACKEND_UNAVAILABLE', `backend "wasm" failed to initialise: ${String(err)}`, {
          cause: err,
        });
      }
      info = { name: 'wasm', package: '@tensorflow/tfjs-backend-wasm' };
      break;
    }
    case 'cpu':
      await tf.setBackend('cpu');
      info = { name: 'cpu', package: '@tensorflow/tfjs-backend-cpu' };
      break;
    case 'auto': {
      const r = await tryNative();
      if ('pkg' in r) {
        info = { name: 'tensorflow', package: r.pkg };
        break;
      }
      let wasmOk = false;
      try {
        wasmOk = await tryWasm();
      } catch {
        wasmOk = false;
      }
      if (wasmOk) {
        info = { name: 'wasm', package: '@tensorflow/tfjs-backend-wasm' };
        break;
      }
      await tf.setBackend('cpu');
      info = { name: 'cpu', package: '@tensorflow/tfjs-backend-cpu' };
      break;
    }
  }
  await tf.ready();
  silenceCpuBanner();
  active = info;
  return info;
}

/** The cpu backend prints an advert for tfjs-node on first use; our logs say which backend runs. */
function silenceCpuBanner(): void {
  const cpu = tf.findBackend('cpu') as unknown as { firstUse?: boolean } | null;
  if (cpu && 'firstUse' in cpu) cpu.firstUse = false;
}
