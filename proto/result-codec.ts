/**
 * Rank 0's results as a stream of ResultPart messages (coordinator.proto): summary.json, then each
 * picture in segments. File names are plain names inside the run's output directory; anything
 * else (a path, "..") is refused so that a worker can never write outside it.
 */
import { DataError } from '../core/errors.js';
import type { ResultPart, ResultPart__Output } from './gen/harmonium/v1/ResultPart.js';
import { SEGMENT_BYTES } from './state-codec.js';

/** A file produced by rank 0, relative to the run's output directory. */
export interface ResultFile {
  readonly name: string;
  readonly data: Uint8Array;
}

const SAFE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** The messages carrying `summaryJson` and `files`. */
export function* encodeResults(summaryJson: string, files: readonly ResultFile[]): Generator<ResultPart> {
  yield { summaryJson };
  for (const f of files) {
    if (f.data.byteLength === 0)
      yield { file: { name: f.name, offset: 0, data: Buffer.alloc(0), last: true } };
    for (let at = 0; at < f.data.byteLength; at += SEGMENT_BYTES) {
      const end = Math.min(f.data.byteLength, at + SEGMENT_BYTES);
      yield {
        file: {
          name: f.name,
          offset: at,
          data: Buffer.from(f.data.buffer, f.data.byteOffset + at, end - at),
          last: end === f.data.byteLength,
        },
      };
    }
  }
}

/** Rebuilds the summary and files from their messages. */
export class ResultAssembler {
  private summary: string | null = null;
  private readonly files = new Map<string, { chunks: Buffer[]; size: number; done: boolean }>();
  private readonly from: string;

  constructor(from: string) {
    this.from = from;
  }

  private fail(message: string): never {
    throw new DataError('DATA_FORMAT', `results from ${this.from}: ${message}`);
  }

  add(part: ResultPart__Output): void {
    if (part.part === 'summaryJson') {
      if (this.summary !== null) this.fail('a second summary');
      this.summary = part.summaryJson ?? '';
      return;
    }
    const f = part.file;
    if (!f) this.fail('an empty part');
    if (!SAFE_NAME.test(f.name)) this.fail(`file name ${JSON.stringify(f.name)} is not a plain file name`);
    let entry = this.files.get(f.name);
    if (!entry) this.files.set(f.name, (entry = { chunks: [], size: 0, done: false }));
    if (entry.done || f.offset !== entry.size)
      this.fail(`${f.name}: segment at ${f.offset}, expected ${entry.size}`);
    entry.chunks.push(f.data);
    entry.size += f.data.byteLength;
    entry.done = f.last;
  }

  /** The parsed summary and the complete files; throws when a file was cut short. */
  finish(): { summary: Record<string, unknown>; files: ResultFile[] } {
    if (this.summary === null) this.fail('no summary');
    let summary: unknown;
    try {
      summary = JSON.parse(this.summary);
    } catch (err) {
      this.fail(`summary is not JSON: ${(err as Error).message}`);
    }
    if (summary === null || typeof summary !== 'object') this.fail('summary is not an object');
    const files: ResultFile[] = [];
    for (const [name, e] of this.files) {
      if (!e.done) this.fail(`${name} was cut short at ${e.size} bytes`);
      files.push({ name, data: Buffer.concat(e.chunks) });
    }
    return { summary: summary as Record<string, unknown>, files };
  }
}
