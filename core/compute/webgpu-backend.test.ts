import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { BackendError } from '../errors.js';
import { tf } from './tf.js';
import { initWebgpu, releaseWebgpu } from './webgpu-backend.js';

interface Dawn {
  create(flags: string[]): {
    requestAdapter(options?: { powerPreference?: string }): Promise<object | null>;
  };
}

/**
 * What Dawn itself says about this machine, asked the way initWebgpu asks it: that decides which
 * behaviour the tests expect. 'no-dawn' when the `webgpu` package is absent or will not load.
 */
async function probeDawn(): Promise<'adapter' | 'no-adapter' | 'no-dawn'> {
  const name = 'webgpu';
  let dawn: Dawn;
  try {
    dawn = (await import(name)) as Dawn;
  } catch {
    return 'no-dawn';
  }
  const adapter = await dawn.create([]).requestAdapter({ powerPreference: 'high-performance' });
  return adapter ? 'adapter' : 'no-adapter';
}

const dawn = await probeDawn();

function rejection(err: unknown): BackendError {
  assert.ok(err instanceof BackendError, `expected a BackendError, got ${String(err)}`);
  assert.equal(err.code, 'BACKEND_UNAVAILABLE');
  assert.ok(err.cause !== undefined, 'the error should carry its cause');
  return err;
}

describe(`initWebgpu (Dawn here: ${dawn})`, () => {
  it('without Dawn, names the package and how to install it', { skip: dawn !== 'no-dawn' }, async () => {
    await assert.rejects(initWebgpu(), (err) => {
      assert.match(rejection(err).message, /webgpu.*(not installed|failed to load)/);
      assert.match(rejection(err).message, /npm (ci|install)/);
      return true;
    });
  });

  it(
    'without an adapter, says so and what to install or use instead',
    { skip: dawn !== 'no-adapter' },
    async () => {
      await assert.rejects(initWebgpu(), (err) => {
        const message = rejection(err).message;
        assert.match(message, /no WebGPU adapter found/);
        if (process.platform === 'linux') {
          assert.match(message, /Vulkan/);
          assert.match(message, /NVIDIA driver/);
          assert.match(message, /libvulkan1/);
          assert.match(message, /lavapipe/);
        }
        assert.match(message, /--backend native or wasm/);
        return true;
      });
      // Everything it installed for Dawn is taken back, and tfjs stays where it was.
      const g = globalThis as unknown as Record<string, unknown>;
      assert.equal(
        g['navigator'] === undefined || (g['navigator'] as Record<string, unknown>)['gpu'] === undefined,
        true,
      );
      assert.equal('GPUBufferUsage' in g, false);
      assert.notEqual(tf.getBackend(), 'webgpu');
    },
  );

  it('with an adapter, multiplies on the GPU as plain JS does', { skip: dawn !== 'adapter' }, async () => {
    const info = await initWebgpu();
    try {
      assert.equal(info.package, '@tensorflow/tfjs-backend-webgpu');
      assert.ok(info.adapter.length > 0);
      assert.equal(tf.getBackend(), 'webgpu');
      const [m, k, n] = [5, 7, 3];
      const a = Array.from({ length: m * k }, (_, i) => ((i * 37) % 11) - 5);
      const b = Array.from({ length: k * n }, (_, i) => ((i * 13) % 7) / 4 - 0.5);
      const expected = Array.from({ length: m * n }, (_, idx) => {
        const [r, c] = [Math.floor(idx / n), idx % n];
        let sum = 0;
        for (let i = 0; i < k; i++) sum += a[r * k + i]! * b[i * n + c]!;
        return sum;
      });
      const product = tf.matMul(tf.tensor2d(a, [m, k]), tf.tensor2d(b, [k, n]));
      const got = Array.from(await product.data());
      tf.dispose(product);
      assert.equal(got.length, expected.length);
      got.forEach((v, i) =>
        assert.ok(Math.abs(v - expected[i]!) < 1e-4, `element ${i}: ${v} vs ${expected[i]}`),
      );
    } finally {
      await tf.setBackend('cpu');
      releaseWebgpu();
    }
  });

  it('leaves nothing that keeps a process alive', () => {
    // A script that initialises (or fails to) and releases must exit on its own.
    const module = join(import.meta.dirname, 'webgpu-backend.ts');
    const script = [
      `const { initWebgpu, releaseWebgpu } = await import(${JSON.stringify(module)});`,
      'try { await initWebgpu(); releaseWebgpu(); console.log("ok"); }',
      'catch (err) { console.log(err.code); }',
    ].join('\n');
    const run = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      encoding: 'utf8',
      timeout: 8000,
    });
    assert.equal(run.error, undefined, `the script did not exit within 8 s: ${String(run.error)}`);
    assert.equal(run.status, 0, run.stderr);
    assert.equal(run.stdout.trim(), dawn === 'adapter' ? 'ok' : 'BACKEND_UNAVAILABLE');
  });
});
