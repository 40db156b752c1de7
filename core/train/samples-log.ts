/**
 * samples.jsonl (`--audit-samples`): one JSON line per committed step, the corpus indices of every
 * image of that step's global batch in position order, as the ranks that trained on them reported
 * them through the all-reduce. Written in step order, each step once; a resumed run keeps the lines
 * up to its checkpoint. The exactly-once check reads it back (readSamplesLog).
 */
import { closeSync, existsSync, openSync, readFileSync, renameSync, writeFileSync, writeSync } from 'node:fs';
import { DataError } from '../errors.js';

/** One line of samples.jsonl. */
export interface SamplesLine {
  readonly step: number;
  readonly epoch: number;
  /** The generation (group membership) that committed the step; 0 for a process training alone. */
  readonly generation: number;
  readonly samples: readonly number[];
}

/** Appends lines to samples.jsonl, refusing any but the next step. */
export class SamplesLog {
  readonly path: string;
  private fd: number | null;
  private next: number;

  /** Opens `path` for appending after the lines it holds (a fresh run removes it first). */
  constructor(path: string) {
    this.path = path;
    const lines = readSamplesLog(path);
    this.next = lines.length > 0 ? lines[lines.length - 1]!.step + 1 : 0;
    writeFileSync(path, lines.map((l) => JSON.stringify(l) + '\n').join(''));
    this.fd = openSync(path, 'a');
  }

  /** The step the next line must be for. */
  get nextStep(): number {
    return this.next;
  }

  /**
   * Appends `line` if it is the next step; a step already written is ignored (a re-sent line), a
   * gap is a DataError naming the missing steps, since the audit must never skip one.
   */
  append(line: SamplesLine): void {
    if (this.fd === null) throw new Error(`samples log ${this.path} is closed`);
    if (line.step < this.next) return;
    if (line.step > this.next) {
      throw new DataError(
        'DATA_CORRUPT',
        `${this.path}: got step ${line.step} while step ${this.next} is not written yet`,
      );
    }
    writeSync(this.fd, JSON.stringify(line) + '\n');
    this.next++;
  }

  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }
}

/** Reads samples.jsonl (missing: no lines); a torn last line is dropped, any other bad line is DATA_CORRUPT. */
export function readSamplesLog(path: string): SamplesLine[] {
  if (!existsSync(path)) return [];
  const lines = readFileSync(path, 'utf8').split('\n');
  const last = lines.pop()!;
  const out: SamplesLine[] = [];
  const parse = (text: string, n: number): SamplesLine => {
    let v: unknown;
    try {
      v = JSON.parse(text);
    } catch (err) {
      throw new DataError('DATA_CORRUPT', `${path}: line ${n}: not valid JSON`, { cause: err });
    }
    const o = v as Partial<SamplesLine> | null;
    if (
      o === null ||
      typeof o !== 'object' ||
      !Number.isSafeInteger(o.step) ||
      !Number.isSafeInteger(o.epoch) ||
      !Number.isSafeInteger(o.generation) ||
      !Array.isArray(o.samples) ||
      !o.samples.every((i) => Number.isSafeInteger(i) && i >= 0)
    ) {
      throw new DataError(
        'DATA_CORRUPT',
        `${path}: line ${n}: not a {step, epoch, generation, samples} line`,
      );
    }
    return o as SamplesLine;
  };
  lines.forEach((text, i) => out.push(parse(text, i + 1)));
  if (last !== '') {
    try {
      out.push(parse(last, lines.length + 1));
    } catch {
      // Torn by a crash mid-write.
    }
  }
  return out;
}

/** Drops the lines of steps at or after `fromStep` (a run resumed at that step), atomically. */
export function truncateSamplesLog(path: string, fromStep: number): void {
  if (!existsSync(path)) return;
  const kept = readSamplesLog(path).filter((l) => l.step < fromStep);
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, kept.map((l) => JSON.stringify(l) + '\n').join(''));
  renameSync(tmp, path);
}
