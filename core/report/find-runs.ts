/**
 * Finds the runs under a directory: every directory, at any depth, that holds a summary.json.
 * Reads and validates each one; a file that cannot be read or validated is listed as skipped with
 * the reason, never fatal. Hidden directories (`.name`) and `node_modules` are not searched, and
 * symbolic links to directories are not followed (no cycles).
 */
import type { Dirent } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';

import { DataError } from '../errors.js';
import { RunSummaryError } from './run-summary-error.js';
import { parseRunSummary, SUMMARY_FILE, type RunSummary } from './run-summary.js';

/** The run path of a summary.json directly in the searched directory. */
export const ROOT_RUN = '.';

/** One run: a directory with a valid summary.json. */
export interface RunEntry {
  /** The run directory relative to the searched one, '/'-separated (`deep-ae/seed1`); ROOT_RUN for itself. */
  readonly run: string;
  /** The run directory, absolute. */
  readonly dir: string;
  readonly summary: RunSummary;
  /** Pictures listed in summary.json that are files in `dir`, in the listed order. */
  readonly pictures: readonly string[];
  /** Pictures listed in summary.json that are not in `dir`. */
  readonly missingPictures: readonly string[];
}

/** A summary.json (or a directory) that could not be used. */
export interface SkippedRun {
  /** The run path, as RunEntry.run. */
  readonly run: string;
  /** The file or directory at fault, joined onto the searched directory as the caller named it. */
  readonly path: string;
  /** What is wrong, without the path: `field "epochs": expected an integer >= 0, got "two"`. */
  readonly reason: string;
}

/** What a search found. */
export interface RunScan {
  /** Sorted by run path (segment by segment, so that `a/b` follows `a` and precedes `a-b`). */
  readonly runs: readonly RunEntry[];
  /** Sorted likewise. */
  readonly skipped: readonly SkippedRun[];
}

/**
 * Searches `dir` for runs. Throws DataError DATA_NOT_FOUND when `dir` is not a directory; any
 * problem below it becomes a SkippedRun.
 */
export async function findRuns(dir: string): Promise<RunScan> {
  const root = resolve(dir);
  let isDir: boolean;
  try {
    isDir = (await stat(root)).isDirectory();
  } catch (err) {
    throw new DataError('DATA_NOT_FOUND', `${dir}: no such directory (${(err as Error).message})`, {
      cause: err,
    });
  }
  if (!isDir) throw new DataError('DATA_NOT_FOUND', `${dir}: not a directory`);
  const runs: RunEntry[] = [];
  const skipped: SkippedRun[] = [];
  await search(dir, root, [], runs, skipped);
  runs.sort((a, b) => compareRunPaths(a.run, b.run));
  skipped.sort((a, b) => compareRunPaths(a.run, b.run) || compareText(a.path, b.path));
  return { runs, skipped };
}

async function search(
  shownRoot: string,
  abs: string,
  parts: readonly string[],
  runs: RunEntry[],
  skipped: SkippedRun[],
): Promise<void> {
  const run = parts.length === 0 ? ROOT_RUN : parts.join('/');
  let entries: Dirent[];
  try {
    entries = await readdir(abs, { withFileTypes: true });
  } catch (err) {
    skipped.push({
      run,
      path: join(shownRoot, ...parts),
      reason: `cannot list directory: ${(err as Error).message}`,
    });
    return;
  }
  entries.sort((a, b) => compareText(a.name, b.name));
  if (entries.some((e) => e.name === SUMMARY_FILE && !e.isDirectory())) {
    const shown = join(shownRoot, ...parts, SUMMARY_FILE);
    try {
      runs.push(await readRun(abs, run, shown));
    } catch (err) {
      if (!(err instanceof RunSummaryError)) throw err;
      skipped.push({ run, path: shown, reason: err.detail });
    }
  }
  for (const e of entries) {
    if (!e.isDirectory() || e.name.startsWith('.') || e.name === 'node_modules') continue;
    await search(shownRoot, join(abs, e.name), [...parts, e.name], runs, skipped);
  }
}

async function readRun(dir: string, run: string, shown: string): Promise<RunEntry> {
  let text: string;
  try {
    text = await readFile(join(dir, SUMMARY_FILE), 'utf8');
  } catch (err) {
    throw new RunSummaryError('IO', shown, `cannot read: ${(err as Error).message}`, { cause: err });
  }
  const summary = parseRunSummary(text, shown);
  const pictures: string[] = [];
  const missingPictures: string[] = [];
  for (const p of summary.pictures) {
    const isFile = await stat(join(dir, p)).then(
      (s) => s.isFile(),
      () => false,
    );
    (isFile ? pictures : missingPictures).push(p);
  }
  return { run, dir, summary, pictures, missingPictures };
}

/** Orders run paths: ROOT_RUN first, then segment by segment in code unit order. */
export function compareRunPaths(a: string, b: string): number {
  if (a === b) return 0;
  if (a === ROOT_RUN) return -1;
  if (b === ROOT_RUN) return 1;
  const pa = a.split('/');
  const pb = b.split('/');
  for (let i = 0; i < Math.min(pa.length, pb.length); i++) {
    const c = compareText(pa[i]!, pb[i]!);
    if (c !== 0) return c;
  }
  return pa.length - pb.length;
}

/** Code unit order, the same on every machine and locale. */
function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
