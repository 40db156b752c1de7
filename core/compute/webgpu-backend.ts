/**
 * The WebGPU route: tfjs's webgpu backend (@tensorflow/tfjs-backend-webgpu) over Dawn's Node
 * binding (the `webgpu` package, which ships dawn.node). Both are optional dependencies.
 *
 * Dawn is asked for an adapter here, before tfjs is: tfjs's own factory dereferences a null adapter
 * and logs a TypeError, which tells a user nothing. On Linux Dawn reaches the GPU through Vulkan, so
 * a machine needs a Vulkan driver with the features Dawn requires; without one the answer is a
 * BackendError saying what to install or which backend to use instead.
 *
 * Dawn keeps the process alive while its GPU object is referenced (see the `webgpu` README,
 * "Lifetime"), so a failed initialisation takes back every global it installed, and
 * `releaseWebgpu` does the same after a successful one.
 */
import { createRequire } from 'node:module';
import { BackendError } from '../errors.js';
import { tf } from './tf.js';

/** Dawn's Node binding. */
const DAWN_PACKAGE = 'webgpu';
/** tfjs's webgpu backend, registered under this backend name. */
const TFJS_PACKAGE = '@tensorflow/tfjs-backend-webgpu';
const BACKEND_NAME = 'webgpu';
/** The priority tfjs-backend-webgpu registers its factory with. */
const TFJS_PRIORITY = 3;
const INSTALL_HINT = `both are optional dependencies of Harmonium: \`npm ci\` without --omit=optional installs them, or \`npm install --no-save ${DAWN_PACKAGE}@0.6.2 ${TFJS_PACKAGE}@4.22.0\``;

/** What this module uses of the WebGPU API (the `webgpu` package's own types would make it global). */
interface GpuAdapterInfo {
  readonly vendor?: string;
  readonly architecture?: string;
  readonly device?: string;
  readonly description?: string;
}

interface GpuAdapter {
  readonly info?: GpuAdapterInfo;
}

interface Gpu {
  requestAdapter(options?: {
    powerPreference?: 'low-power' | 'high-performance';
  }): Promise<GpuAdapter | null>;
}

interface DawnModule {
  create(flags: string[]): Gpu;
  readonly globals: Readonly<Record<string, unknown>>;
}

type Globals = Record<string, unknown> & { navigator?: Record<string, unknown> };

const require = createRequire(import.meta.url);

/** What initWebgpu put into globalThis, to be taken back on failure or by releaseWebgpu. */
interface Installed {
  readonly names: string[];
  readonly createdNavigator: boolean;
  readonly definedGpu: boolean;
}

let installed: Installed | null = null;
let ready: { package: string; adapter: string } | null = null;
let queue: Promise<unknown> = Promise.resolve();

/**
 * Makes tfjs compute on the GPU through WebGPU (Dawn) and returns the package that provides the
 * backend and a description of the adapter. Throws BackendError BACKEND_UNAVAILABLE, with the cause
 * attached, when a package is missing or fails to load, when Dawn finds no adapter, or when tfjs
 * cannot initialise the backend; nothing of Dawn's is left referenced then.
 */
export async function initWebgpu(): Promise<{ package: string; adapter: string }> {
  // Overlapping calls would install the globals twice and race two tfjs initialisations.
  const mine = queue.catch(() => undefined).then(init);
  queue = mine;
  return mine;
}

/**
 * Gives Dawn back: destroys the webgpu backend's device and takes back the globals initWebgpu
 * installed, so that nothing keeps the process alive. The backend stays registered: a later
 * initWebgpu starts again. Switch tfjs to another backend first if it is to go on computing.
 */
export function releaseWebgpu(): void {
  const factory = tf.findBackendFactory(BACKEND_NAME);
  if (factory) {
    const backend = webgpuInstance() as { device?: { destroy(): void } } | undefined;
    backend?.device?.destroy();
    // removeBackend disposes the instance but also forgets the factory, which the package
    // registers only once, when it is first imported.
    tf.removeBackend(BACKEND_NAME);
    tf.registerBackend(BACKEND_NAME, factory, TFJS_PRIORITY);
  }
  uninstallGlobals();
  ready = null;
}

/** The initialised webgpu backend, if any (tf.findBackend would initialise one). */
function webgpuInstance(): object | undefined {
  return tf.engine().registry[BACKEND_NAME];
}

async function init(): Promise<{ package: string; adapter: string }> {
  if (ready && webgpuInstance()) {
    await setWebgpuBackend();
    return ready;
  }
  const dawn = await loadDawn();
  resolvePackage(TFJS_PACKAGE);
  try {
    const gpu = installGlobals(dawn);
    const adapter = await requestAdapter(gpu);
    await loadTfjsBackend();
    await setWebgpuBackend();
    ready = { package: TFJS_PACKAGE, adapter: describe(adapter) };
    return ready;
  } catch (err) {
    uninstallGlobals();
    throw err;
  }
}

function resolvePackage(name: string): void {
  try {
    require.resolve(name);
  } catch (err) {
    throw new BackendError(
      'BACKEND_UNAVAILABLE',
      `backend "webgpu" needs ${name}, which is not installed (${INSTALL_HINT})`,
      { cause: err },
    );
  }
}

async function loadDawn(): Promise<DawnModule> {
  resolvePackage(DAWN_PACKAGE);
  try {
    return (await import(DAWN_PACKAGE)) as DawnModule;
  } catch (err) {
    throw new BackendError(
      'BACKEND_UNAVAILABLE',
      `backend "webgpu": ${DAWN_PACKAGE} is installed but its dawn.node failed to load (dawn.node of webgpu 0.6.2 needs glibc 2.34 and the libstdc++ of GCC 12 or newer; if the package is damaged, reinstall it with \`npm install --no-save ${DAWN_PACKAGE}@0.6.2\`): ${messageOf(err)}`,
      { cause: err },
    );
  }
}

/**
 * Dawn's classes and constants (GPUBufferUsage, GPUMapMode...) into globalThis, and Dawn's GPU as
 * navigator.gpu, where tfjs-backend-webgpu looks for them. Node 21+ has a navigator of its own,
 * which gets a gpu property; Node 20 has none, so one is made. Nothing already there is replaced.
 */
function installGlobals(dawn: DawnModule): Gpu {
  const g = globalThis as unknown as Globals;
  const names: string[] = [];
  for (const [name, value] of Object.entries(dawn.globals)) {
    if (name in g) continue;
    Object.defineProperty(g, name, { value, configurable: true, writable: true });
    names.push(name);
  }
  const createdNavigator = g.navigator === undefined;
  if (createdNavigator) {
    Object.defineProperty(g, 'navigator', { value: {}, configurable: true, writable: true });
  }
  const navigator = g.navigator!;
  const definedGpu = navigator['gpu'] === undefined;
  if (definedGpu) {
    Object.defineProperty(navigator, 'gpu', { value: dawn.create([]), configurable: true, writable: true });
  }
  installed = { names, createdNavigator, definedGpu };
  return navigator['gpu'] as Gpu;
}

function uninstallGlobals(): void {
  if (!installed) return;
  const g = globalThis as unknown as Globals;
  if (installed.definedGpu && g.navigator) delete g.navigator['gpu'];
  if (installed.createdNavigator) delete g.navigator;
  for (const name of installed.names) delete g[name];
  installed = null;
}

async function requestAdapter(gpu: Gpu): Promise<GpuAdapter> {
  let adapter: GpuAdapter | null;
  try {
    adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  } catch (err) {
    throw new BackendError(
      'BACKEND_UNAVAILABLE',
      `backend "webgpu": Dawn's requestAdapter failed: ${messageOf(err)}`,
      { cause: err },
    );
  }
  if (adapter) return adapter;
  throw new BackendError('BACKEND_UNAVAILABLE', noAdapterMessage(), {
    cause: new Error('navigator.gpu.requestAdapter({ powerPreference: "high-performance" }) returned null'),
  });
}

function noAdapterMessage(): string {
  const instead = 'use --backend native or wasm instead';
  if (process.platform !== 'linux') {
    return `backend "webgpu": no WebGPU adapter found: Dawn offers none on ${process.platform} here; ${instead}`;
  }
  const loader = vulkanLoaderError();
  return [
    'backend "webgpu": no WebGPU adapter found.',
    loader ? ` The Vulkan loader is not installed here (${loader}).` : '',
    ' Dawn reaches the GPU through Vulkan and needs a Vulkan driver with the features it requires:',
    ' on a machine with an NVIDIA GPU, the NVIDIA driver and the Vulkan loader (Debian/Ubuntu package libvulkan1;',
    ' in a container, NVIDIA_DRIVER_CAPABILITIES must include graphics).',
    " Mesa's lavapipe (mesa-vulkan-drivers) on Debian 12 does not qualify: Dawn rejects it.",
    ` Otherwise ${instead}.`,
  ].join('');
}

/**
 * Why libvulkan.so.1 cannot be loaded, or null when it can. Loading it as an addon is how the
 * dynamic linker is asked, with the same search path Dawn uses: a library that is there but is no
 * Node addon fails with "did not self-register" instead.
 */
function vulkanLoaderError(): string | null {
  try {
    process.dlopen({ exports: {} }, 'libvulkan.so.1');
  } catch (err) {
    const message = messageOf(err);
    if (message.includes('cannot open shared object file')) return message;
  }
  return null;
}

async function loadTfjsBackend(): Promise<void> {
  try {
    await import(TFJS_PACKAGE);
  } catch (err) {
    throw new BackendError(
      'BACKEND_UNAVAILABLE',
      `backend "webgpu": ${TFJS_PACKAGE} failed to load: ${messageOf(err)}`,
      { cause: err },
    );
  }
  if (!tf.findBackendFactory(BACKEND_NAME)) {
    // The package registers its factory when first imported, and only if navigator.gpu exists then.
    throw new BackendError(
      'BACKEND_UNAVAILABLE',
      `backend "webgpu": ${TFJS_PACKAGE} registered no "${BACKEND_NAME}" backend (it was first imported before navigator.gpu existed)`,
    );
  }
}

async function setWebgpuBackend(): Promise<void> {
  let ok: boolean;
  try {
    ok = await tf.setBackend(BACKEND_NAME);
    if (ok) await tf.ready();
  } catch (err) {
    throw new BackendError(
      'BACKEND_UNAVAILABLE',
      `backend "webgpu" failed to initialise: ${messageOf(err)}`,
      { cause: err },
    );
  }
  if (!ok) {
    throw new BackendError(
      'BACKEND_UNAVAILABLE',
      'backend "webgpu" failed to initialise: tfjs could not create the WebGPU device (its warning above says why)',
      { cause: new Error(`tf.setBackend("${BACKEND_NAME}") returned false`) },
    );
  }
}

/** "vendor / architecture / device / description", of those the adapter reports. */
function describe(adapter: GpuAdapter): string {
  const info = adapter.info ?? {};
  const parts = [info.vendor, info.architecture, info.device, info.description]
    .map((p) => (p ?? '').trim())
    .filter((p, i, all) => p !== '' && all.indexOf(p) === i);
  return parts.length > 0
    ? parts.join(' / ')
    : 'a WebGPU adapter (it reports no vendor, device or description)';
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
