import assert from 'node:assert/strict';
import { it } from 'node:test';
import { blasCoreFor, chooseBlasCore, cpuFlags } from './blas-core.js';

it('names the OpenBLAS core the instruction set supports, and never overrides the user', () => {
  const flags = (s: string) => cpuFlags(`processor\t: 0\nflags\t\t: ${s}\nbugs\t\t: spectre_v1\n`);
  assert.equal(
    blasCoreFor(flags('fpu sse2 avx avx2 fma avx512f avx512dq avx512cd avx512bw avx512vl')),
    'SkylakeX',
  );
  assert.equal(blasCoreFor(flags('fpu sse2 avx avx2 fma avx512f')), 'Haswell');
  assert.equal(blasCoreFor(flags('fpu sse2 avx')), 'SandyBridge');
  assert.equal(blasCoreFor(flags('fpu sse2 sse3')), null);
  assert.equal(blasCoreFor(cpuFlags('')), null);
  const env: NodeJS.ProcessEnv = {};
  assert.equal(chooseBlasCore(env, flags('avx avx2 fma')), 'Haswell');
  assert.equal(env['OPENBLAS_CORETYPE'], 'Haswell');
  const mine: NodeJS.ProcessEnv = { OPENBLAS_CORETYPE: 'Zen' };
  assert.equal(
    chooseBlasCore(mine, flags('avx avx2 fma avx512f avx512dq avx512cd avx512bw avx512vl')),
    'Zen',
  );
  assert.equal(mine['OPENBLAS_CORETYPE'], 'Zen');
  const none: NodeJS.ProcessEnv = {};
  assert.equal(chooseBlasCore(none, flags('sse2')), null);
  assert.equal('OPENBLAS_CORETYPE' in none, false);
});
