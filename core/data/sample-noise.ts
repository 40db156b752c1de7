/**
 * Per-sample random draws for a training step. Every row of a draw comes from a generator seeded
 * by (run seed, step, the row's position in the global batch), so a worker holding rows [a, b) of
 * the batch draws exactly what a single worker holding the whole batch draws for those rows, and
 * data-parallel training does not depend on the world size or on how the batch is split.
 */
import { Rng, deriveSeed } from './rng.js';

/**
 * What a model's training step may draw from. `Rng` satisfies it as well (as one stream for the
 * whole buffer), which is what the models' own tests and the samplers pass.
 */
export interface Noise {
  /** Fills `out` with uniforms in [0, 1) and returns it. */
  fillUniform(out: Float32Array): Float32Array;
  /** Fills `out` with N(mean, std^2) values (defaults 0 and 1) and returns it. */
  fillNormal(out: Float32Array, mean?: number, std?: number): Float32Array;
}

/** Stream id of step noise in `deriveSeed`; must equal SEED_STREAM.noise in core/train/training-loop.ts. */
export const NOISE_STREAM = 2;

/**
 * The noise of one step for `rows` consecutive samples of the global batch starting at
 * `firstSample`. A draw is read as `rows` row-major rows of `out.length / rows` values, row i
 * filled from sample firstSample + i's own generator; the generators persist across the draws of
 * the step, so each sample's successive draws continue its own stream.
 */
export class SampleNoise implements Noise {
  /** One generator per row, made on the first draw: steps of deterministic models never pay for them. */
  private rngs: Rng[] | null = null;

  constructor(
    private readonly seed: number,
    private readonly step: number,
    private readonly firstSample: number,
    private readonly rows: number,
  ) {
    if (!Number.isInteger(rows) || rows < 0) throw new RangeError(`noise rows must be a count, got ${rows}`);
    if (!Number.isInteger(firstSample) || firstSample < 0) {
      throw new RangeError(`noise first sample must be a batch position, got ${firstSample}`);
    }
  }

  fillUniform(out: Float32Array): Float32Array {
    const width = this.width(out);
    const rngs = this.generators();
    for (let i = 0; i < this.rows; i++) rngs[i]!.fillUniform(out.subarray(i * width, (i + 1) * width));
    return out;
  }

  fillNormal(out: Float32Array, mean = 0, std = 1): Float32Array {
    const width = this.width(out);
    const rngs = this.generators();
    for (let i = 0; i < this.rows; i++) {
      rngs[i]!.fillNormal(out.subarray(i * width, (i + 1) * width), mean, std);
    }
    return out;
  }

  /** Values per row of `out`; a RangeError when `out` is not whole rows (a model drawing off its rows). */
  private width(out: Float32Array): number {
    if (this.rows === 0 ? out.length !== 0 : out.length % this.rows !== 0) {
      throw new RangeError(`a draw of ${out.length} values is not ${this.rows} rows of equal width`);
    }
    return this.rows === 0 ? 0 : out.length / this.rows;
  }

  private generators(): Rng[] {
    this.rngs ??= Array.from(
      { length: this.rows },
      (_, i) => new Rng(deriveSeed(this.seed, this.step, this.firstSample + i, NOISE_STREAM)),
    );
    return this.rngs;
  }
}
