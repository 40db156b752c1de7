/**
 * The one value a 16-bit wire cannot carry silently: past 65504, fp16 holds only infinity, which
 * the optimizer would write into every replica. A reduced buffer is checked before it is applied.
 */
import type { WireDtype } from '../collective/wire-dtype.js';
import { ConfigError } from '../errors.js';

/** Throws a ConfigError naming --allreduce-dtype when `values` (reduced on `wire`) hold a non-finite value. */
export function checkWireRange(values: Float32Array, wire: WireDtype, step: number, what: string): void {
  if (wire !== 'fp16') return;
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i]!)) {
      throw new ConfigError(
        'allreduce-dtype',
        `${what} ${i} is ${values[i]} after the fp16 all-reduce at step ${step} (fp16 carries magnitudes up to 65504); ` +
          'use --allreduce-dtype bf16 (float32 range) or float32',
      );
    }
  }
}
