/**
 * The fields of a run's summary.json that a report shows, checked one by one: a file written by
 * `harmonium train` (core/train/run-results.ts, TrainingSummary) passes; anything else fails with
 * a RunSummaryError (a DataError) naming the file and the field.
 */
import { RunSummaryError } from './run-summary-error.js';

/** A hyperparameter value as summary.json holds it (anything JSON, in practice numbers, strings, lists). */
export type HyperValue = unknown;

/** What a report reads from summary.json; the other fields of TrainingSummary are ignored. */
export interface RunSummary {
  readonly model: string;
  /** In the file's order (the model's option order). */
  readonly hyper: Readonly<Record<string, HyperValue>>;
  readonly dataset: string;
  readonly backend: string;
  /** Compute threads per process; null where the library decided or the run predates the field. */
  readonly threads: number | null;
  readonly workers: number;
  readonly seed: number;
  readonly batch_size: number;
  readonly epochs: number;
  /** Images the job trained on, over all epochs (and sessions of a resumed run). */
  readonly images_seen: number;
  /** null stands for a non-finite value (JSON writes NaN and ±Infinity as null). */
  readonly train_seconds: number | null;
  readonly images_per_second: number | null;
  readonly resumed_from_step: number | null;
  /** null when the run was not evaluated; a null figure was not finite. */
  readonly test: Readonly<Record<string, number | null>> | null;
  /** File names inside the run directory. */
  readonly pictures: readonly string[];
}

/** The name of the file a run directory is recognised by. */
export const SUMMARY_FILE = 'summary.json';

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Parses the text of `path` (a summary.json) and validates it; RunSummaryError DATA_FORMAT naming `path`. */
export function parseRunSummary(text: string, path: string): RunSummary {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new RunSummaryError('DATA_FORMAT', path, `not valid JSON: ${(err as Error).message}`, {
      cause: err,
    });
  }
  return validateRunSummary(raw, path);
}

/**
 * Checks that `raw` (parsed from `path`) holds what a report shows and returns it typed. Throws
 * RunSummaryError DATA_FORMAT `<path>: field "<name>": expected ..., got ...`.
 */
export function validateRunSummary(raw: unknown, path: string): RunSummary {
  const fail = (field: string, expected: string, got: unknown): never => {
    throw new RunSummaryError(
      'DATA_FORMAT',
      path,
      `field "${field}": expected ${expected}, got ${show(got)}`,
    );
  };
  if (!isObject(raw)) return fail('(root)', 'a JSON object', raw);
  const text = (field: string): string => {
    const v = raw[field];
    return typeof v === 'string' && v.length > 0 ? v : fail(field, 'a non-empty string', v);
  };
  const int = (field: string, min: number): number => {
    const v = raw[field];
    return typeof v === 'number' && Number.isSafeInteger(v) && v >= min
      ? v
      : fail(field, `an integer >= ${min}`, v);
  };
  const figure = (field: string): number | null => {
    const v = raw[field];
    return v === null || (typeof v === 'number' && v >= 0) ? v : fail(field, 'a number >= 0 or null', v);
  };
  const orNull = <T>(field: string, read: (field: string) => T): T | null =>
    raw[field] === null || raw[field] === undefined ? null : read(field);

  const hyper = raw.hyper;
  if (!isObject(hyper)) fail('hyper', 'an object of hyperparameters', hyper);
  const test = raw.test;
  if (test !== null && !isObject(test)) fail('test', 'an object of figures or null', test);
  if (isObject(test)) {
    for (const [k, v] of Object.entries(test)) {
      if (v !== null && typeof v !== 'number') fail(`test.${k}`, 'a number or null', v);
    }
  }
  // Runs written before threads were recorded have no field; pictures may be absent likewise.
  const pictures = raw.pictures ?? [];
  if (!Array.isArray(pictures)) fail('pictures', 'a list of file names', pictures);
  (pictures as unknown[]).forEach((p, i) => {
    if (typeof p !== 'string' || !isPlainRelative(p)) {
      fail(`pictures[${i}]`, 'a file name inside the run directory', p);
    }
  });
  return {
    model: text('model'),
    hyper: hyper as Record<string, HyperValue>,
    dataset: text('dataset'),
    backend: text('backend'),
    threads: orNull('threads', (f) => int(f, 1)),
    workers: int('workers', 1),
    seed: int('seed', 0),
    batch_size: int('batch_size', 1),
    epochs: int('epochs', 0),
    images_seen: int('images_seen', 0),
    train_seconds: figure('train_seconds'),
    images_per_second: figure('images_per_second'),
    resumed_from_step: orNull('resumed_from_step', (f) => int(f, 0)),
    test: test as Record<string, number | null> | null,
    pictures: pictures as string[],
  };
}

/** A relative path that stays inside its directory: no root, no drive, no `..`, no empty part. */
function isPlainRelative(p: string): boolean {
  if (p === '' || p.startsWith('/') || p.startsWith('\\') || /^[a-zA-Z]:/.test(p)) return false;
  return p.split(/[\\/]/).every((part) => part !== '' && part !== '.' && part !== '..');
}

/** A value for an error message, cut short. */
function show(v: unknown): string {
  const s = v === undefined ? 'nothing' : JSON.stringify(v);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}
