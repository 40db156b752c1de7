/**
 * Which kernels OpenBLAS runs. Its DYNAMIC_ARCH build picks them from the CPU's family and model
 * numbers; a hypervisor that reports a generic model ("Intel(R) Xeon(R) Processor") leaves it on
 * Prescott's SSE3 kernels, a fraction of what the CPU can do (measured on such a VM: a 1000^3
 * sgemm at 30 GFLOP/s on Prescott, 139 on SkylakeX). OpenBLAS reads OPENBLAS_CORETYPE when it
 * loads, so before the native addon loads it we name the core that the CPU's instruction set
 * supports, unless the user has set one.
 */
import { readFileSync } from 'node:fs';

/** The OpenBLAS core for a CPU with these /proc/cpuinfo flags, or null to leave it to OpenBLAS. */
export function blasCoreFor(flags: ReadonlySet<string>): string | null {
  const has = (...f: string[]): boolean => f.every((x) => flags.has(x));
  if (has('avx512f', 'avx512bw', 'avx512vl', 'avx512dq', 'avx512cd')) return 'SkylakeX';
  if (has('avx2', 'fma')) return 'Haswell';
  if (has('avx')) return 'SandyBridge';
  return null;
}

/** The flags of the first CPU in /proc/cpuinfo (empty where there is none: not Linux). */
export function cpuFlags(cpuinfo?: string): Set<string> {
  let text = cpuinfo;
  if (text === undefined) {
    try {
      text = readFileSync('/proc/cpuinfo', 'utf8');
    } catch {
      return new Set();
    }
  }
  const line = /^flags\s*:\s*(.*)$/m.exec(text)?.[1] ?? '';
  return new Set(line.split(/\s+/).filter(Boolean));
}

/**
 * Sets OPENBLAS_CORETYPE in `env` from the CPU's flags when it is unset; returns the value OpenBLAS
 * will be told (the user's, ours, or null for none).
 */
export function chooseBlasCore(
  env: NodeJS.ProcessEnv = process.env,
  flags: ReadonlySet<string> = cpuFlags(),
): string | null {
  const given = env['OPENBLAS_CORETYPE'];
  if (given !== undefined && given !== '') return given;
  const core = blasCoreFor(flags);
  if (core !== null) env['OPENBLAS_CORETYPE'] = core;
  return core;
}
