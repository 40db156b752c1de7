import { ConfigError } from '../errors.js';
import type { HyperSpec } from '../models/hyper.js';

/** A free-text option (paths, data specs). */
export interface StringSpec {
  readonly name: string;
  readonly type: 'string';
  readonly default: string;
  readonly doc: string;
}

/** Any option the CLI and job files accept: a training option or a model hyperparameter. */
export type OptionSpec = HyperSpec | StringSpec;
export type OptionValue = number | boolean | string | readonly number[];

/**
 * Parses and validates one option value. `raw` is a string from a flag or the environment, or a
 * JSON/YAML value from a job file; `where` names the source for the error message.
 */
export function parseOptionValue(spec: OptionSpec, raw: unknown, where: string): OptionValue {
  const field = `${spec.name} (${where})`;
  const fail = (expected: string): never => {
    throw new ConfigError(field, `expected ${expected}, got ${JSON.stringify(raw)}`);
  };
  switch (spec.type) {
    case 'string':
      if (typeof raw !== 'string' || raw.length === 0) fail('a non-empty string');
      return raw as string;
    case 'bool':
      if (typeof raw === 'boolean') return raw;
      if (raw === 'true' || raw === '1' || raw === 'yes') return true;
      if (raw === 'false' || raw === '0' || raw === 'no') return false;
      return fail('true or false');
    case 'enum': {
      const values = spec.values ?? [];
      if (typeof raw !== 'string' || !values.includes(raw)) fail(`one of ${values.join(', ')}`);
      return raw as string;
    }
    case 'int':
    case 'float': {
      const n =
        typeof raw === 'number' ? raw : typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : NaN;
      const what = spec.type === 'int' ? 'an integer' : 'a number';
      if (!Number.isFinite(n) || (spec.type === 'int' && !Number.isInteger(n))) fail(what);
      checkRange(spec, n, field);
      return n;
    }
    case 'int-list': {
      const parts: unknown[] = Array.isArray(raw)
        ? raw
        : typeof raw === 'number'
          ? [raw]
          : typeof raw === 'string'
            ? raw.split(',').map((s) => s.trim())
            : [];
      const out = parts.map((p) =>
        typeof p === 'number' ? p : typeof p === 'string' && p !== '' ? Number(p) : NaN,
      );
      if (out.length === 0 || out.some((n) => !Number.isInteger(n)))
        fail('a comma-separated list of integers');
      for (const n of out) checkRange(spec, n, field);
      return out;
    }
  }
}

function checkRange(spec: HyperSpec, n: number, field: string): void {
  if (spec.min !== undefined && n < spec.min)
    throw new ConfigError(field, `must be >= ${spec.min}, got ${n}`);
  if (spec.max !== undefined && n > spec.max)
    throw new ConfigError(field, `must be <= ${spec.max}, got ${n}`);
}

/** Closest known names, for "did you mean" hints. */
export function suggest(name: string, known: readonly string[]): string {
  const scored = known
    .map((k) => ({ k, d: editDistance(name, k) }))
    .filter((x) => x.d <= Math.max(2, Math.floor(name.length / 3)))
    .sort((a, b) => a.d - b.d);
  return scored.length > 0 ? ` (did you mean ${scored[0]!.k}?)` : '';
}

function editDistance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = prev[j]!;
      prev[j] = Math.min(up + 1, prev[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = up;
    }
  }
  return prev[b.length]!;
}
