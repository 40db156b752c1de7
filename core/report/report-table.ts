/**
 * The content of a report, before it is written as Markdown or HTML: the columns, one row of cells
 * per run and the runs that were skipped. Both renderers take this one table, so the two files
 * always say the same thing. Strings here are plain text; each renderer escapes them.
 */
import { relative, resolve, sep } from 'node:path';

import { compareRunPaths, type RunEntry, type SkippedRun } from './find-runs.js';
import { hyperFlags } from './hyper-flags.js';
import { formatCount, formatDuration, formatRate } from './number-format.js';
import { relativeHref } from './relative-href.js';
import { SUMMARY_FILE } from './run-summary.js';
import { formatTestFigure, orderTestKeys } from './test-figures.js';

/** What a cell shows where a run has no such figure. */
export const ABSENT = '–';

/** A picture of a run: its name without extension ("reconstructions") and its link from the report. */
export interface PictureLink {
  readonly label: string;
  readonly href: string;
}

/** Plain text; `code` asks for a code span (flags, paths). */
export interface TextCell {
  readonly kind: 'text';
  readonly text: string;
  readonly code?: boolean;
}

export type ReportCell =
  | TextCell
  | { readonly kind: 'link'; readonly text: string; readonly href: string }
  | { readonly kind: 'pictures'; readonly pictures: readonly PictureLink[] };

export interface ReportColumn {
  readonly header: string;
  /** The header is a field name of summary.json (a test figure), shown as code. */
  readonly code: boolean;
  /** Right-aligned. */
  readonly numeric: boolean;
}

/** A skipped summary.json as a report lists it. */
export interface SkippedLine {
  readonly run: string;
  /** Link to the file or directory at fault. */
  readonly href: string;
  readonly reason: string;
}

export interface ReportTable {
  readonly title: string;
  /** One sentence under the title (how many runs, from where), as text pieces. */
  readonly intro: readonly TextCell[];
  readonly columns: readonly ReportColumn[];
  /** One per run, in run path order; each as long as `columns`. */
  readonly rows: readonly (readonly ReportCell[])[];
  readonly skipped: readonly SkippedLine[];
}

export interface ReportOptions {
  /** The directory the report files go to; every link is relative to it. */
  readonly outDir: string;
  /** The directory that was searched, named in the intro (relative to `outDir`). */
  readonly runsDir?: string;
  /** Summaries that could not be read, listed under the table. */
  readonly skipped?: readonly SkippedRun[];
  /** Default "Harmonium runs". */
  readonly title?: string;
  /** The test figures to show, in this order; default every figure any run has (see orderTestKeys). */
  readonly figures?: readonly string[];
}

const text = (t: string, code = false): TextCell => ({ kind: 'text', text: t, code });
const column = (header: string, numeric = false, code = false): ReportColumn => ({ header, numeric, code });

/** Builds the table of `runs` (any order: rows are sorted by run path). */
export function buildReportTable(runs: readonly RunEntry[], opts: ReportOptions): ReportTable {
  const outDir = resolve(opts.outDir);
  const sorted = [...runs].sort((a, b) => compareRunPaths(a.run, b.run));
  const testKeys = opts.figures
    ? [...new Set(opts.figures)]
    : orderTestKeys(sorted.flatMap((r) => Object.keys(r.summary.test ?? {})));
  const notes = sorted.map(runNotes);
  const withPictures = sorted.some((r) => r.pictures.length > 0);
  const withNotes = notes.some((n) => n !== '');

  const columns: ReportColumn[] = [
    column('run'),
    column('model'),
    column('data'),
    column('options'),
    column('epochs', true),
    column('images/epoch', true),
    column('batch', true),
    column('seed', true),
    column('workers', true),
    column('backend'),
    column('train time', true),
    column('images/s', true),
    ...testKeys.map((k) => column(k, true, true)),
    ...(withPictures ? [column('pictures')] : []),
    ...(withNotes ? [column('notes')] : []),
  ];
  const rows = sorted.map((r, i): ReportCell[] => {
    const s = r.summary;
    const flags = hyperFlags(s.hyper);
    return [
      { kind: 'link', text: r.run, href: relativeHref(outDir, resolve(r.dir, SUMMARY_FILE)) },
      text(s.model),
      text(s.dataset),
      flags === '' ? text(ABSENT) : text(flags, true),
      text(formatCount(s.epochs)),
      text(s.epochs > 0 ? formatCount(Math.round(s.images_seen / s.epochs)) : ABSENT),
      text(formatCount(s.batch_size)),
      text(String(s.seed)),
      text(formatCount(s.workers)),
      text(backendText(s.backend, s.threads)),
      text(formatDuration(s.train_seconds)),
      text(formatRate(s.images_per_second)),
      ...testKeys.map((k) => {
        const test = s.test ?? {};
        return text(Object.hasOwn(test, k) ? formatTestFigure(k, test[k] ?? null) : ABSENT);
      }),
      ...(withPictures
        ? [
            {
              kind: 'pictures',
              pictures: shownPictures(r.pictures).map((p) => ({
                label: pictureLabel(p),
                href: relativeHref(outDir, resolve(r.dir, p)),
              })),
            } as const,
          ]
        : []),
      ...(withNotes ? [text(notes[i]!)] : []),
    ];
  });
  const skipped = [...(opts.skipped ?? [])]
    .sort((a, b) => compareRunPaths(a.run, b.run))
    .map((s) => ({ run: s.run, href: relativeHref(outDir, resolve(s.path)), reason: s.reason }));

  const count = `${runs.length} run${runs.length === 1 ? '' : 's'}`;
  const skippedNote = skipped.length > 0 ? `, ${skipped.length} skipped (listed below)` : '';
  const tail = `${skippedNote}. Test figures from each run's summary.json; ${ABSENT} where a run has none.`;
  return {
    title: opts.title ?? 'Harmonium runs',
    intro:
      opts.runsDir === undefined
        ? [text(`${count}${tail}`)]
        : [text(`${count} under `), text(relativePath(outDir, resolve(opts.runsDir)), true), text(tail)],
    columns,
    rows,
    skipped,
  };
}

const EPOCH_GRID = /^samples-epoch-\d+\.png$/;

/** The pictures of a run as listed, but of the sample grids drawn after each epoch only the last. */
function shownPictures(pictures: readonly string[]): string[] {
  const grids = pictures.filter((p) => EPOCH_GRID.test(p)).sort();
  const last = grids[grids.length - 1];
  return pictures.filter((p) => !EPOCH_GRID.test(p) || p === last);
}

/** A picture's file name without its extension: "reconstructions". */
function pictureLabel(file: string): string {
  return file.replace(/\.[^./\\]+$/, '');
}

/** `target` relative to `fromDir`, '/'-separated, '.' for itself: a path to show, not a link. */
function relativePath(fromDir: string, target: string): string {
  return relative(fromDir, target).split(sep).join('/') || '.';
}

/** "native (2 threads)"; the backend alone where the thread count is not recorded. */
function backendText(backend: string, threads: number | null): string {
  if (threads === null) return backend;
  return `${backend} (${threads} thread${threads === 1 ? '' : 's'})`;
}

/** Resumption, a missing test block, pictures listed but absent; '' when nothing to say. */
function runNotes(r: RunEntry): string {
  const notes: string[] = [];
  if (r.summary.resumed_from_step !== null) {
    notes.push(`resumed from step ${formatCount(r.summary.resumed_from_step)}`);
  }
  if (r.summary.test === null) notes.push('not evaluated');
  if (r.missingPictures.length > 0) notes.push(`missing pictures: ${r.missingPictures.join(', ')}`);
  return notes.join('; ');
}
