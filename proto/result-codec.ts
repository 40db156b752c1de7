/**
 * Rank 0's results as a stream of ResultPart messages (coordinator.proto): summary.json, then each
 * picture in segments. File names are plain names inside the run's output directory; anything
 * else (a path, "..") is refused so that a worker can never write outside it. The summary, the
 * number of files and their sizes are held to fixed limits, checked before a segment is kept.
 */
import { DataError } from '../core/errors.js';
import type { ResultPart, ResultPart__Output } from './gen/harmonium/v1/ResultPart.js';
import { nestsDeeperThan } from '../core/json-depth.js';
import { MAX_JSON_DEPTH, SEGMENT_BYTES } from './state-codec.js';

/** A file produced by rank 0, relative to the run's output directory. */
export interface ResultFile {
  readonly name: string;
  readonly data: Uint8Array;
}

/** The most UTF-8 bytes summary.json may take: it is a few KiB. */
export const MAX_SUMMARY_BYTES = 1 << 20;

/** The most files one result may hold: a sample picture per epoch of a long run, and the rest. */
export const MAX_RESULT_FILES = 65_536;

/** The longest file name (a filesystem's NAME_MAX). */
export const MAX_RESULT_NAME_LENGTH = 255;

/** The most bytes one file may take: pictures are a few MiB at most. */
export const MAX_RESULT_FILE_BYTES = 256 << 20;

/** The most bytes all files of one result may take together. */
export const MAX_RESULT_BYTES = 1 << 30;

/** No separator, no leading dot (so neither "." nor ".."), ASCII only. */
const SAFE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** The limits a ResultAssembler holds a stream to; tests shrink them. */
export interface ResultLimits {
  readonly summaryBytes: number;
  readonly files: number;
  readonly fileBytes: number;
  readonly totalBytes: number;
}

/** The limits of a real transfer. */
export const RESULT_LIMITS: ResultLimits = {
  summaryBytes: MAX_SUMMARY_BYTES,
  files: MAX_RESULT_FILES,
  fileBytes: MAX_RESULT_FILE_BYTES,
  totalBytes: MAX_RESULT_BYTES,
};

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

/**
 * Rebuilds the summary and files from their messages. Every failure is a DataError DATA_FORMAT
 * naming the sender and the file.
 */
export class ResultAssembler {
  private summary: string | null = null;
  private readonly files = new Map<string, { chunks: Buffer[]; size: number; done: boolean }>();
  private totalBytes = 0;

  /** `from` names the sender in errors (e.g. "worker w-1"). */
  constructor(
    private readonly from: string,
    private readonly limits: ResultLimits = RESULT_LIMITS,
  ) {}

  private fail(message: string): never {
    throw new DataError('DATA_FORMAT', `results from ${this.from}: ${message}`);
  }

  add(part: ResultPart__Output): void {
    if (part.part === 'summaryJson') {
      if (this.summary !== null) this.fail('a second summary');
      const json = part.summaryJson ?? '';
      // Length in UTF-16 units bounds the UTF-8 size from below: no need to measure a huge one.
      if (json.length > this.limits.summaryBytes || Buffer.byteLength(json) > this.limits.summaryBytes) {
        this.fail(`summary: more than ${this.limits.summaryBytes} bytes`);
      }
      this.summary = json;
      return;
    }
    const f = part.file;
    if (!f) this.fail('a part that is neither a summary nor a file');
    if (f.name.length > MAX_RESULT_NAME_LENGTH || !SAFE_NAME.test(f.name)) {
      this.fail(`file name ${JSON.stringify(f.name.slice(0, 300))} is not a plain file name`);
    }
    let entry = this.files.get(f.name);
    if (!entry) {
      if (this.files.size >= this.limits.files) this.fail(`${f.name}: more than ${this.limits.files} files`);
      this.files.set(f.name, (entry = { chunks: [], size: 0, done: false }));
    }
    if (entry.done || f.offset !== entry.size) {
      this.fail(`${f.name}: segment at ${f.offset}, expected ${entry.done ? 'none' : entry.size}`);
    }
    const bytes = f.data.byteLength;
    if (bytes > this.limits.fileBytes - entry.size) {
      this.fail(`${f.name}: more than ${this.limits.fileBytes} bytes`);
    }
    if (bytes > this.limits.totalBytes - this.totalBytes) {
      this.fail(`${f.name}: the files take more than ${this.limits.totalBytes} bytes together`);
    }
    entry.chunks.push(f.data);
    entry.size += bytes;
    entry.done = f.last;
    this.totalBytes += bytes;
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
    if (summary === null || typeof summary !== 'object' || Array.isArray(summary)) {
      this.fail('summary is not an object');
    }
    if (nestsDeeperThan(summary, MAX_JSON_DEPTH)) {
      this.fail(`summary nests deeper than ${MAX_JSON_DEPTH} levels`);
    }
    const files: ResultFile[] = [];
    for (const [name, e] of this.files) {
      if (!e.done) this.fail(`${name} was cut short at ${e.size} bytes`);
      files.push({ name, data: Buffer.concat(e.chunks) });
    }
    return { summary: summary as Record<string, unknown>, files };
  }
}
