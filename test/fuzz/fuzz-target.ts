/**
 * What a fuzz target is and the property every one of them must hold: for any input, its decoder
 * returns a value or throws a HarmoniumError (never another exception), within MAX_CASE_MS, and
 * without holding more than MAX_CASE_ALLOC_BYTES of new memory afterwards. Targets run their
 * decoders with limits far below the real ones, so an allocation that dodges a limit check shows
 * up as growth well before it would exhaust the machine.
 */
import type fc from 'fast-check';

import { HarmoniumError } from '../../core/errors.js';

/** One decoder under fuzzing. Inputs are bytes, so that any of them can be kept in a corpus file. */
export interface FuzzTarget {
  /** Also the corpus directory: test/fuzz/corpus/<name>/. */
  readonly name: string;
  /** Valid encodings made by the real encoders. */
  readonly seeds: () => readonly Uint8Array[];
  /** Inputs built from the seeds (see mutate.ts). */
  readonly arbitrary: (seeds: readonly Uint8Array[]) => fc.Arbitrary<Uint8Array>;
  /** Decodes `input`: returns what the decoder made, or throws its HarmoniumError. */
  readonly run: (input: Uint8Array) => unknown;
}

/** The longest one case may take: decoders run in linear time over a few KiB. */
const MAX_CASE_MS = 2000;

/** The most new memory one case may leave allocated, with the targets' shrunken limits. */
export const MAX_CASE_ALLOC_BYTES = 256 << 20;

function allocated(): number {
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

/**
 * Runs `target` on `input`; throws (an Error naming the target, with the decoder's exception as
 * its cause) unless the property holds.
 */
export async function checkCase(target: FuzzTarget, input: Uint8Array): Promise<void> {
  const before = allocated();
  const start = performance.now();
  let result: unknown;
  try {
    result = await target.run(input);
  } catch (err) {
    if (!(err instanceof HarmoniumError)) {
      throw new Error(`${target.name}: not a HarmoniumError: ${String(err)}`, { cause: err });
    }
  }
  const ms = performance.now() - start;
  if (ms > MAX_CASE_MS) throw new Error(`${target.name}: one case took ${ms.toFixed(0)} ms`);
  const grown = allocated() - before;
  if (grown > MAX_CASE_ALLOC_BYTES) {
    throw new Error(`${target.name}: one case left ${(grown / 2 ** 20).toFixed(0)} MiB allocated`);
  }
  // Held until measured, so the growth counts what the decoder returned.
  void result;
}
