/**
 * metrics.jsonl: one JSON object per logged step, appended with one write per line, so a crash
 * can leave at most a truncated last line. Non-finite numbers (a diverged loss) are written as
 * `null` because JSON has no NaN, and read back as NaN.
 */
import {
  closeSync,
  existsSync,
  openSync,
  readFileSync,
  renameSync,
  truncateSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { DataError } from '../errors.js';

/** One line of metrics.jsonl. */
export interface MetricsRecord {
  readonly step: number;
  readonly epoch: number;
  readonly loss: number;
  readonly images_per_second: number;
  /** Extras: model figures (kl, reconstruction...), lr, momentum. */
  readonly [extra: string]: number;
}

/** Appends records to a metrics.jsonl file; keeps the file open between appends. */
export class MetricsLog {
  readonly path: string;
  private fd: number | null;

  /**
   * Opens `path` for appending, creating it if needed. A truncated last line left by a crash is cut
   * off first, so the next record does not glue onto it and corrupt the middle of the file.
   */
  constructor(path: string) {
    this.path = path;
    if (existsSync(path)) {
      const text = readFileSync(path, 'utf8');
      if (text.length > 0 && !text.endsWith('\n')) {
        truncateSync(path, Buffer.byteLength(text.slice(0, text.lastIndexOf('\n') + 1)));
      }
    }
    this.fd = openSync(path, 'a');
  }

  /** Appends one record as one line. */
  append(record: MetricsRecord): void {
    if (this.fd === null) throw new Error(`metrics log ${this.path} is closed`);
    writeSync(this.fd, formatRecord(record));
  }

  /** Closes the file; appending afterwards throws. */
  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }
}

/** The line written for a record: `step`, `epoch`, `loss`, `images_per_second` first, then extras. */
function formatRecord(record: MetricsRecord): string {
  const { step, epoch, loss, images_per_second, ...extras } = record;
  const ordered = { step, epoch, loss, images_per_second, ...extras };
  return (
    JSON.stringify(ordered, (_key, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v)) +
    '\n'
  );
}

/**
 * Reads metrics.jsonl. A last line without its newline (a crash mid-write) that does not parse is
 * ignored; any other bad line is a DataError DATA_CORRUPT naming the file and line number. A missing
 * file reads as no records.
 */
export function readMetricsLog(path: string): MetricsRecord[] {
  return parseLines(path).map((l) => l.record);
}

/**
 * Drops every record with `step > afterStep` (and a truncated last line), for a run resumed at
 * `afterStep`. The file is replaced atomically (write a temporary file, rename). Returns the number
 * of records dropped; a missing file is left missing. Call it before opening a MetricsLog on `path`.
 */
export function truncateMetricsLog(path: string, afterStep: number): number {
  if (!existsSync(path)) return 0;
  const lines = parseLines(path);
  const kept = lines.filter((l) => l.record.step <= afterStep);
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, kept.map((l) => l.text + '\n').join(''));
  renameSync(tmp, path);
  return lines.length - kept.length;
}

function parseLines(path: string): { text: string; record: MetricsRecord }[] {
  if (!existsSync(path)) return [];
  const text = readFileSync(path, 'utf8');
  const lines = text.split('\n');
  // A complete file ends with '\n', leaving one empty string; anything else there is a partial line.
  const last = lines.pop()!;
  const out: { text: string; record: MetricsRecord }[] = [];
  lines.forEach((line, i) => out.push({ text: line, record: parseRecord(path, line, i + 1) }));
  if (last !== '') {
    try {
      out.push({ text: last, record: parseRecord(path, last, lines.length + 1) });
    } catch {
      // Truncated by a crash: the record was never completely written.
    }
  }
  return out;
}

function parseRecord(path: string, line: string, lineNo: number): MetricsRecord {
  const bad = (what: string, cause?: unknown): never => {
    throw new DataError(
      'DATA_CORRUPT',
      `${path}: line ${lineNo}: ${what}`,
      cause === undefined ? {} : { cause },
    );
  };
  let raw: unknown;
  try {
    raw = JSON.parse(line);
  } catch (err) {
    bad(`not valid JSON: ${String(err)}`, err);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return bad('not a JSON object');
  const record: Record<string, number> = {};
  for (const [k, v] of Object.entries(raw)) {
    if (v === null) record[k] = NaN;
    else if (typeof v === 'number') record[k] = v;
    else bad(`field "${k}" is not a number`);
  }
  for (const k of ['step', 'epoch']) {
    if (!Number.isInteger(record[k])) bad(`field "${k}" must be an integer`);
  }
  return record as unknown as MetricsRecord;
}
