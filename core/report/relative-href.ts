/**
 * Links from a report to the files it shows: relative to the report's own directory, '/'-separated
 * and percent-encoded part by part, so that the report still works when the tree is moved or served
 * over HTTP, and no file name can end a Markdown link or an HTML attribute early.
 */
import { relative, sep } from 'node:path';

/** The relative URL of `target` (an absolute path) as seen from `fromDir` (an absolute directory). */
export function relativeHref(fromDir: string, target: string): string {
  const rel = relative(fromDir, target);
  if (rel === '') return '.';
  return rel
    .split(sep)
    .map((part) => (part === '..' ? part : encodePart(part)))
    .join('/');
}

/** encodeURIComponent, plus the characters it leaves that Markdown or a shell would read: ( ) ' * ! */
function encodePart(part: string): string {
  return encodeURIComponent(part).replace(
    /[()'*!]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}
