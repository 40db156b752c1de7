/**
 * `harmonium report DIR [--out FILE] [--figures K,...]`: finds the runs under DIR and writes the same report twice,
 * FILE.md and FILE.html, each written atomically. Reruns nothing; reads only summary.json files
 * (and checks that the pictures they list exist).
 */
import { mkdir, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';

import { writeFileAtomic } from '../data/atomic-write.js';
import { DataError } from '../errors.js';
import { findRuns, type SkippedRun } from './find-runs.js';
import { htmlFromTable } from './html-report.js';
import { markdownFromTable } from './markdown-report.js';
import { buildReportTable } from './report-table.js';
import { SUMMARY_FILE } from './run-summary.js';

/** The report's base name inside DIR (or inside a directory given as FILE): REPORT.md, REPORT.html. */
export const DEFAULT_REPORT_NAME = 'REPORT';

export interface ReportPaths {
  readonly markdown: string;
  readonly html: string;
}

export interface ReportResult {
  /** Where the two files were written. */
  readonly paths: ReportPaths;
  /** Their contents. */
  readonly markdown: string;
  readonly html: string;
  /** Runs in the table. */
  readonly runs: number;
  /** summary.json files (or directories) left out, with why. */
  readonly skipped: readonly SkippedRun[];
  /** One line for each thing a user should hear about: skipped files, pictures listed but absent. */
  readonly warnings: readonly string[];
}

/**
 * Where the report of `dir` goes: `out` without a `.md`/`.html` extension plus each extension;
 * `out` naming an existing directory, or no `out`, means DEFAULT_REPORT_NAME inside it (or `dir`).
 */
export async function reportPaths(dir: string, out?: string): Promise<ReportPaths> {
  let base: string;
  if (out === undefined) {
    base = join(dir, DEFAULT_REPORT_NAME);
  } else if (await isDirectory(out)) {
    base = join(out, DEFAULT_REPORT_NAME);
  } else {
    base = out.replace(/\.(md|markdown|html?)$/i, '');
  }
  return { markdown: `${base}.md`, html: `${base}.html` };
}

/**
 * Writes the report of the runs under `dir` to `out`.md and `out`.html (see reportPaths), creating
 * their directory. Throws DataError DATA_NOT_FOUND when `dir` is not a directory or holds no
 * summary.json at all, and DataError IO when a file cannot be written; a broken summary.json is
 * skipped and reported, not thrown.
 */
export async function writeReport(
  dir: string,
  out?: string,
  opts: { readonly figures?: readonly string[] } = {},
): Promise<ReportResult> {
  const scan = await findRuns(dir);
  if (scan.runs.length === 0 && scan.skipped.length === 0) {
    throw new DataError('DATA_NOT_FOUND', `${dir}: no ${SUMMARY_FILE} in it or below it: no runs to report`);
  }
  const paths = await reportPaths(dir, out);
  const outDir = dirname(resolve(paths.markdown));
  const table = buildReportTable(scan.runs, {
    outDir,
    runsDir: dir,
    skipped: scan.skipped,
    ...(opts.figures ? { figures: opts.figures } : {}),
  });
  const markdown = markdownFromTable(table);
  const html = htmlFromTable(table);
  try {
    await mkdir(outDir, { recursive: true });
  } catch (err) {
    throw new DataError('IO', `cannot create ${dirname(paths.markdown)}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  await writeFileAtomic(paths.markdown, markdown);
  await writeFileAtomic(paths.html, html);
  const warnings = [
    ...scan.skipped.map((s) => `${s.path}: ${s.reason} (skipped)`),
    ...scan.runs.flatMap((r) =>
      r.missingPictures.map((p) => `${join(dir, r.run, p)}: listed in ${SUMMARY_FILE} but not found`),
    ),
    ...(opts.figures ?? [])
      .filter((k) => !scan.runs.some((r) => Object.hasOwn(r.summary.test ?? {}, k)))
      .map((k) => `--figures: no run has the test figure "${k}"`),
  ];
  return { paths, markdown, html, runs: scan.runs.length, skipped: scan.skipped, warnings };
}

async function isDirectory(path: string): Promise<boolean> {
  return stat(path).then(
    (s) => s.isDirectory(),
    () => false,
  );
}
