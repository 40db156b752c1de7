/**
 * Typed reads of validated hyperparameter values. The config layer checks values against the
 * HyperSpecs; a model's `create` still falls back to the spec default for anything left out, so
 * tests and library callers can pass only what they change.
 */
import { ConfigError } from '../errors.js';
import type { HyperSpec, HyperValues } from './hyper.js';

/** Reads hyperparameters of one model by name, with the defaults from its specs. */
export class HyperReader {
  constructor(
    private readonly specs: readonly HyperSpec[],
    private readonly values: HyperValues,
  ) {}

  private raw(name: string): HyperValues[string] {
    return this.values[name] ?? this.spec(name).default;
  }

  private spec(name: string): HyperSpec {
    const spec = this.specs.find((s) => s.name === name);
    if (!spec) throw new Error(`no hyperparameter "${name}" in this model's specs`);
    return spec;
  }

  /** Checks `v` against the spec's inclusive bounds. */
  private inRange(name: string, v: number): number {
    const { min, max } = this.spec(name);
    if ((min !== undefined && v < min) || (max !== undefined && v > max)) {
      throw new ConfigError(name, `${v} is outside [${min ?? '-inf'}, ${max ?? 'inf'}]`);
    }
    return v;
  }

  number(name: string): number {
    const v = this.raw(name);
    if (typeof v !== 'number' || !Number.isFinite(v))
      throw new ConfigError(name, `expected a number, got ${String(v)}`);
    return this.inRange(name, v);
  }

  int(name: string): number {
    const v = this.number(name);
    if (!Number.isInteger(v)) throw new ConfigError(name, `expected an integer, got ${v}`);
    return v;
  }

  bool(name: string): boolean {
    const v = this.raw(name);
    if (typeof v !== 'boolean') throw new ConfigError(name, `expected true or false, got ${String(v)}`);
    return v;
  }

  /** An enum value, checked against `allowed`. */
  choice<T extends string>(name: string, allowed: readonly T[]): T {
    const v = this.raw(name);
    const hit = allowed.find((a) => a === v);
    if (hit === undefined)
      throw new ConfigError(name, `expected one of ${allowed.join(', ')}, got ${String(v)}`);
    return hit;
  }

  /** A non-empty list of positive integers. */
  intList(name: string): number[] {
    const v = this.raw(name);
    if (!Array.isArray(v) || v.length === 0 || !v.every((n) => Number.isInteger(n) && n > 0)) {
      throw new ConfigError(name, `expected a non-empty list of positive integers, got ${String(v)}`);
    }
    return v.map((n: number) => this.inRange(name, n));
  }

  /** All values as given or defaulted, for `Model.hyper`. */
  resolved(): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const s of this.specs) out[s.name] = this.raw(s.name);
    return out;
  }
}
