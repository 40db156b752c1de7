import { DataError } from '../errors.js';

/**
 * A summary.json that cannot be read or does not hold what a report shows. The message is
 * `<file>: <detail>`; `file` is the path as the caller named it, `detail` what is wrong (the field
 * and what was expected), so a report can print the detail next to a path of its own choosing.
 */
export class RunSummaryError extends DataError {
  readonly file: string;
  readonly detail: string;

  constructor(code: 'DATA_FORMAT' | 'IO', file: string, detail: string, options?: { cause?: unknown }) {
    super(code, `${file}: ${detail}`, options);
    this.file = file;
    this.detail = detail;
  }
}
