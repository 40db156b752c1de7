/**
 * The fuzz corpus: test/fuzz/corpus/<target>/, a few inputs per target (valid encodings and tricky
 * ones) and every input a fuzz run found failing, replayed before any new case is tried.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** The corpus directory of `target`. */
function corpusDir(target: string): string {
  return join(import.meta.dirname, 'corpus', target);
}

/** The corpus files of `target`, in name order ([] when it has none). */
export function readCorpus(target: string): { readonly path: string; readonly bytes: Uint8Array }[] {
  const dir = corpusDir(target);
  let names: string[];
  try {
    names = readdirSync(dir).sort();
  } catch {
    return [];
  }
  return names.map((name) => ({ path: join(dir, name), bytes: readFileSync(join(dir, name)) }));
}

/** Stores `input` in the corpus of `target` as `<kind>-<sha256 prefix>`; returns its path. */
export function addToCorpus(target: string, kind: string, input: Uint8Array): string {
  const dir = corpusDir(target);
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `${kind}-${createHash('sha256').update(input).digest('hex').slice(0, 16)}`);
  writeFileSync(path, input);
  return path;
}
